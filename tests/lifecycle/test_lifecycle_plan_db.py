"""Promise follow-ups planned on the database (`plan_campaign_day` over migrated SQLite and PostgreSQL,
with the script library's catalog): a `ptp_reminder` the day before a pending promise falls due and no
other collections call while it is pending; the planner's sweep breaks it after the grace days and plans a
`ptp_broken` call. Fixed working days (no public holiday in CN or the US), zh and en."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from agent.campaign.plan_db import plan_campaign_day
from agent.store.db import session_scope
from agent.store.lifecycle_models import Promise
from agent.store.models import Attempt, Call, Campaign, OutboxEvent
from tests.lifecycle_support import finished_call, make_account

pytestmark = pytest.mark.db
MADE = date(2025, 6, 1)   # the promise call (a Sunday: 8 days before the reminder, clear of US Reg F's 7)
DUE = date(2025, 6, 10)   # Tuesday; grace 2 days -> the window ends as 13 June begins, account-local
ZONE = {"zh": "Asia/Shanghai", "en": "America/New_York"}


def _at(day: date, hour: int, lang: str) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(ZONE[lang])).astimezone(UTC)


def _seed(url: str, lang: str) -> dict[str, str]:
    with session_scope(url) as s:
        camp = Campaign(name=f"June M1 {lang}", purpose="collections", status="running", max_attempts=10)
        s.add(camp)
        s.flush()
        camp_id = camp.id
    promiser = make_account(url, f"p-{lang}", lang, phone="+8613800000011" if lang == "zh" else "+14155550111")
    other = make_account(url, f"o-{lang}", lang, phone="+8613800000012" if lang == "zh" else "+14155550112")
    call_id = finished_call(url, promiser, "ptp", {"pay_amount": 800.0, "pay_date": DUE.isoformat()}, lang=lang,
                            campaign_id=camp_id)
    made = _at(MADE, 11, lang)
    with session_scope(url) as s:  # the promise call happened on MADE, as a dialled attempt of the campaign
        att = Attempt(campaign_id=camp_id, account_id=promiser, script_id=f"collections_m1_{lang}_a",
                      phone="+0", status="done", dialed_at=made, result="answered", finished_at=made)
        s.add(att)
        s.flush()
        call = s.get(Call, call_id)
        call.attempt_id, call.started_at, call.ended_at = att.id, made, made + timedelta(minutes=3)
        p = s.scalars(select(Promise).where(Promise.call_id == call_id)).one()
        assert (p.status, p.due_date, p.amount) == ("pending", DUE, 800.0)
        p.promised_at = made + timedelta(minutes=3)
        promise_id = p.id
    return {"camp": camp_id, "promiser": promiser, "other": other, "promise": promise_id}


def _plan(url: str, ids: dict[str, str], day: date) -> dict[str, Attempt]:
    with session_scope(url) as s:
        res = plan_campaign_day(s, ids["camp"], day, capacity=10, seed=1)
        rows = s.scalars(select(Attempt).where(Attempt.id.in_(res.attempt_ids))).all()
        s.expunge_all()
    return {a.account_id: a for a in rows}


def _dialled(url: str, attempt: Attempt) -> None:
    """What a worker leaves behind when nobody answers the planned dial."""
    with session_scope(url) as s:
        a = s.get(Attempt, attempt.id)
        a.status, a.result, a.dialed_at, a.finished_at = "done", "no_answer", a.not_before, a.not_before


def _promise(url: str, ids: dict[str, str]) -> str:
    with session_scope(url) as s:
        return s.get(Promise, ids["promise"]).status


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_reminder_the_day_before_due_and_a_broken_promise_call_after_the_grace_days(db_url, lang):
    ids = _seed(db_url, lang)

    # two days before due: the promise holds the account out of collections; the other account is dialled
    plan = _plan(db_url, ids, DUE - timedelta(days=2))
    assert ids["promiser"] not in plan and plan[ids["other"]].script_id.startswith(f"collections_m1_{lang}_")
    for a in plan.values():
        _dialled(db_url, a)

    # the day before due: the reminder, in calling hours, account-local
    plan = _plan(db_url, ids, DUE - timedelta(days=1))
    reminder = plan[ids["promiser"]]
    assert reminder.script_id in (f"collections_ptp_reminder_{lang}_a", f"collections_ptp_reminder_{lang}_b")
    nb = reminder.not_before if reminder.not_before.tzinfo else reminder.not_before.replace(tzinfo=UTC)
    local = nb.astimezone(ZoneInfo(ZONE[lang]))
    assert local.date() == DUE - timedelta(days=1) and 8 <= local.hour < 21
    for a in plan.values():
        _dialled(db_url, a)

    # due day and the grace days: reminded once, still pending -> no call at all
    for day in (DUE, DUE + timedelta(days=1), DUE + timedelta(days=2)):
        plan = _plan(db_url, ids, day)
        assert ids["promiser"] not in plan, (day, plan[ids["promiser"]].script_id)
        assert _promise(db_url, ids) == "pending"
        for a in plan.values():
            _dialled(db_url, a)

    # the first day after the grace days: the planner's sweep breaks it, and plans the broken-promise call
    plan = _plan(db_url, ids, DUE + timedelta(days=3))
    assert _promise(db_url, ids) == "broken"
    assert plan[ids["promiser"]].script_id in (f"collections_ptp_broken_{lang}_a", f"collections_ptp_broken_{lang}_b")
    with session_scope(db_url) as s:
        broken = [e.payload["id"] for e in s.scalars(select(OutboxEvent).where(OutboxEvent.type == "promise.broken"))]
    assert broken == [ids["promise"]]

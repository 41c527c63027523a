"""In-process runs (`dialwise demo`, `dialwise campaigns run`: `agent.runner.run_attempts`) take their
attempts from the worker's queue, so they are admitted like any worker's dial: the campaign's
`max_concurrent` caps the lines, a pause stops the run, one debtor is never in two calls at once, and an
attempt that cannot even be prepared is closed by the dial path's own closer."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agent.dialing.base import NO_ANSWER, DialOutcome, DialTarget
from agent.runner import run_attempts
from agent.store import session_scope
from agent.store.models import Account, Attempt, Call, Campaign
from agent.timeutil import aware
from tests.dial_support import RecordingDialer, add_account

pytestmark = [pytest.mark.db, pytest.mark.timeout(120)]
SCRIPT = "collections_m1_en_a"


class CountingDialer(RecordingDialer):
    """Holds each call `hold_s` and keeps the most calls in flight at once, overall and per debtor."""

    def __init__(self, hold_s: float, on_dial=None) -> None:
        super().__init__(hold_s=hold_s)
        self.live: dict[str, int] = {}
        self.most = 0
        self.overlap = 0
        self.on_dial = on_dial

    async def dial(self, target: DialTarget) -> DialOutcome:
        if self.live.get(target.account_id):
            self.overlap += 1
        self.live[target.account_id] = self.live.get(target.account_id, 0) + 1
        self.most = max(self.most, sum(self.live.values()))
        if self.on_dial:
            await asyncio.to_thread(self.on_dial, len(self.dials) + 1)
        try:
            return await super().dial(target)
        finally:
            self.live[target.account_id] -= 1


def _campaign(db_url: str, accounts: list[str], *, max_concurrent: int, script: str = SCRIPT,
              per_account: int = 1) -> tuple[str, list[str]]:
    now = datetime.now(UTC) - timedelta(seconds=1)
    with session_scope(db_url) as s:
        camp = Campaign(name="batch", status="running", max_concurrent=max_concurrent, network="loopback")
        s.add(camp)
        s.flush()
        ids = []
        for acc in accounts:
            phone = s.get(Account, acc).phone
            for _ in range(per_account):
                att = Attempt(campaign_id=camp.id, account_id=acc, script_id=script, phone=phone, not_before=now)
                s.add(att)
                s.flush()
                ids.append(att.id)
        return camp.id, ids


def _statuses(db_url: str, campaign_id: str) -> dict[str, str]:
    with session_scope(db_url) as s:
        return dict(s.execute(select(Attempt.id, Attempt.status).where(Attempt.campaign_id == campaign_id)).all())


async def test_the_campaigns_max_concurrent_caps_the_lines_of_a_run(db_url):
    accounts = [add_account(db_url, phone=f"+1415555030{i}") for i in range(5)]
    cid, ids = _campaign(db_url, accounts, max_concurrent=2)
    dialer = CountingDialer(hold_s=0.4)
    reports = await run_attempts(campaign_id=cid, deps=None, dialer=dialer, concurrency=8, db_url=db_url)  # type: ignore[arg-type]
    assert sorted(r.attempt_id for r in reports) == sorted(ids)
    assert {r.status for r in reports} == {"done"}
    assert len(dialer.dials) == 5 and dialer.most == 2  # 8 lines asked for, 2 allowed by the campaign


async def test_one_debtor_is_never_in_two_calls_at_once(db_url):
    accounts = [add_account(db_url, phone=f"+1415555031{i}") for i in range(2)]
    cid, ids = _campaign(db_url, accounts, max_concurrent=10, per_account=2)
    dialer = CountingDialer(hold_s=0.3)
    reports = await run_attempts(campaign_id=cid, deps=None, dialer=dialer, concurrency=4, db_url=db_url)  # type: ignore[arg-type]
    assert len(reports) == 4 and len(dialer.dials) == 4
    assert dialer.overlap == 0 and dialer.most == 2


async def test_a_pause_stops_the_run_and_leaves_the_rest_planned(db_url):
    accounts = [add_account(db_url, phone=f"+1415555032{i}") for i in range(6)]
    cid, ids = _campaign(db_url, accounts, max_concurrent=1)

    def pause_after_first(n: int) -> None:
        if n == 1:
            with session_scope(db_url) as s:
                s.get(Campaign, cid).status = "paused"

    dialer = CountingDialer(hold_s=0.2, on_dial=pause_after_first)
    reports = await run_attempts(campaign_id=cid, deps=None, dialer=dialer, concurrency=1, db_url=db_url)  # type: ignore[arg-type]
    assert len(dialer.dials) == 1 and [r.status for r in reports] == ["done"]  # the call in progress finished
    statuses = _statuses(db_url, cid)
    assert sorted(statuses.values()) == ["done"] + ["planned"] * 5  # the rest wait for a start


async def test_an_attempt_that_cannot_be_prepared_is_closed_by_the_dial_path(db_url):
    acc = add_account(db_url, phone="+14155550330")
    cid, (bad,) = _campaign(db_url, [acc], max_concurrent=1, script="no_such_script")
    dialer = CountingDialer(hold_s=0)
    (rep,) = await run_attempts(campaign_id=cid, deps=None, dialer=dialer, db_url=db_url)  # type: ignore[arg-type]
    assert dialer.dials == [] and rep.status == "failed" and "no_such_script" in (rep.rule or "")
    with session_scope(db_url) as s:
        att = s.get(Attempt, bad)
        assert (att.status, att.result) == ("failed", "failed")
        assert "no_such_script" in (att.detail or "") and att.finished_at is not None  # close_attempt's record
        assert s.scalars(select(Call)).all() == []


async def test_a_simulated_day_dials_each_attempt_at_its_slot(db_url):
    """The demo's run: attempts planned for later today, all taken at once on a simulated clock whose end
    is the last slot as read back from the database (naive on SQLite), each dialled at its own slot."""
    accounts = [add_account(db_url, phone=f"+1415555033{i}", hour=9) for i in range(3)]
    now = datetime.now(UTC)
    with session_scope(db_url) as s:
        camp = Campaign(name="day", status="running", max_concurrent=4)
        s.add(camp)
        s.flush()
        for i, acc in enumerate(accounts):
            s.add(Attempt(campaign_id=camp.id, account_id=acc, script_id=SCRIPT, phone=s.get(Account, acc).phone,
                          not_before=now + timedelta(hours=1 + i)))
        cid = camp.id
    with session_scope(db_url) as s:
        last = max(a.not_before for a in s.scalars(select(Attempt).where(Attempt.campaign_id == cid)))
    dialer = CountingDialer(hold_s=0)
    reports = await run_attempts(campaign_id=cid, deps=None, dialer=dialer, at=last + timedelta(seconds=1),  # type: ignore[arg-type]
                                 simulated_clock=True, db_url=db_url)
    assert sorted(r.status for r in reports) == ["done"] * 3
    with session_scope(db_url) as s:
        for att in s.scalars(select(Attempt).where(Attempt.campaign_id == cid)):
            assert att.dialed_at == att.not_before  # dialled at its slot, not now


async def test_the_retries_a_run_plans_wait_for_a_later_run(db_url):
    """A run takes the attempts that exist when it starts: a no-answer's retry, due within the run's
    window on the simulated clock, is planned but not dialled by the same run (the demo dials each
    account once)."""
    acc = add_account(db_url, phone="+14155550340", hour=9)
    slot = datetime.now(UTC) + timedelta(hours=1)
    with session_scope(db_url) as s:
        camp = Campaign(name="retry", status="running", max_concurrent=1, max_attempts=3)
        s.add(camp)
        s.flush()
        s.add(Attempt(campaign_id=camp.id, account_id=acc, script_id=SCRIPT, phone="+14155550340", not_before=slot))
        cid = camp.id
    dialer = RecordingDialer(result=NO_ANSWER)
    reports = await run_attempts(campaign_id=cid, deps=None, dialer=dialer, at=slot + timedelta(hours=2),  # type: ignore[arg-type]
                                 simulated_clock=True, db_url=db_url)
    assert len(dialer.dials) == 1 and [r.status for r in reports] == [NO_ANSWER]
    with session_scope(db_url) as s:
        rows = s.execute(select(Attempt.attempt_no, Attempt.status, Attempt.not_before)
                         .where(Attempt.campaign_id == cid).order_by(Attempt.attempt_no)).all()
    assert [(n, st) for n, st, _ in rows] == [(1, "done"), (2, "planned")]
    assert aware(rows[1][2]) <= slot + timedelta(hours=2)  # it was due within the run's window

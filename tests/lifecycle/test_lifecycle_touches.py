"""Real-time touches: an event becomes a gated dial within minutes; consent (CN telesales) and refusals
hold; the rules file is checked; the bench measures event in -> dial placed."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agent.errors import UserError
from agent.lifecycle.events import apply_event, parse_event
from agent.lifecycle.touches import load_rules, parse_rules
from agent.store.db import session_scope
from agent.store.models import Attempt, Campaign, ComplianceBlock
from tests.lifecycle_support import make_account

pytestmark = pytest.mark.db
# The clock is injected: a Wednesday that is a working day in both packs (no public holiday in CN or the
# US), at midday in the accounts' own zones, so calling hours and holidays never decide these tests.
NOW = {"zh": datetime(2025, 6, 4, 4, 0, tzinfo=UTC),   # 12:00 in Asia/Shanghai
       "en": datetime(2025, 6, 4, 16, 0, tzinfo=UTC)}  # 12:00 in America/New_York


def event(eid, kind, ext, lang="zh", at=None, **kw):
    return parse_event({"id": eid, "type": kind, "account_external_id": ext,
                        "at": (at or NOW[lang]).isoformat(), **kw})


def apply(s, ev, lang="zh"):
    return apply_event(s, ev, now=NOW[lang])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_payment_missed_queues_a_gated_collections_touch_due_now(db_url, lang):
    make_account(db_url, "t-1", lang)  # Asia/Shanghai CN, or America/New_York US
    with session_scope(db_url) as s:
        out = apply(s, event("m-1", "payment_missed", "t-1", lang), lang)
    touch = out["effect"]["touch"]
    assert touch["queued"] and touch["rule"] == "payment_missed_call", touch
    assert touch["script_id"].startswith(f"collections_m1_{lang}_")
    with session_scope(db_url) as s:
        att = s.get(Attempt, touch["attempt_id"])
        camp = s.get(Campaign, att.campaign_id)
        assert camp.status == "running" and camp.max_attempts == 1
        due = att.not_before if att.not_before.tzinfo else att.not_before.replace(tzinfo=UTC)
        assert due == NOW[lang]  # the rule's delay is 0: due at event time
    # a second event while the touch is queued adds no second dial
    with session_scope(db_url) as s:
        again = apply(s, event("m-2", "payment_missed", "t-1", lang), lang)["effect"]["touch"]
    assert again["queued"] is False and touch["attempt_id"] in again["why"]


def test_touch_outside_calling_hours_is_blocked_not_queued(db_url):
    """The injected clock matters: the same event at 02:00 Shanghai time meets the gate's calling hours."""
    make_account(db_url, "t-0", "zh")
    night = datetime(2025, 6, 3, 18, 0, tzinfo=UTC)  # 02:00 on 4 June in Shanghai
    with session_scope(db_url) as s:
        touch = apply_event(s, event("n-1", "payment_missed", "t-0", at=night), now=night)["effect"]["touch"]
    assert touch["queued"] is False and touch["blocked_by"], touch


def test_cn_telesales_touch_needs_consent_and_none_after_refusal(db_url):
    make_account(db_url, "t-2", "zh", purpose="telesales", product="reborrow",
                 consent_marketing=False, phone="+8613900000002")
    with session_scope(db_url) as s:
        out = apply(s, event("a-1", "application_abandoned", "t-2"))["effect"]["touch"]
    assert out == {"rule": "application_abandoned_call", "queued": False, "blocked_by": "cn_telesales_consent",
                   "why": out["why"]}
    with session_scope(db_url) as s:
        assert s.scalars(select(Attempt)).all() == []
        assert [b.rule for b in s.scalars(select(ComplianceBlock))] == ["cn_telesales_consent"]
    make_account(db_url, "t-3", "zh", purpose="telesales", product="reborrow",
                 consent_marketing=True, phone="+8613900000003")
    with session_scope(db_url) as s:
        ok = apply(s, event("a-2", "application_abandoned", "t-3"))["effect"]["touch"]
    assert ok["queued"] and ok["script_id"].startswith("telesales_reborrow_zh_")


def test_old_events_trigger_no_real_time_touch(db_url):
    make_account(db_url, "t-4", "en")
    old = event("o-1", "payment_missed", "t-4", "en", at=NOW["en"] - timedelta(hours=3))
    with session_scope(db_url) as s:
        touch = apply(s, old, "en")["effect"]["touch"]
    assert touch["queued"] is False and "too old" in touch["why"]


def test_touch_rules_file_is_checked(tmp_path, monkeypatch):
    assert [r.id for r in load_rules()] == ["payment_missed_call", "application_abandoned_call", "limit_raised_call"]
    with pytest.raises(UserError, match="unknown event"):
        parse_rules([{"id": "x", "event": "refund", "purpose": "collections"}])
    with pytest.raises(UserError, match="needs a 'product'"):
        parse_rules([{"id": "x", "event": "limit_raised", "purpose": "telesales"}])
    with pytest.raises(UserError, match="duplicate"):
        parse_rules([{"id": "x", "event": "payment_missed", "purpose": "collections"}] * 2)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [{"id": "slow", "event": "payment_missed", "purpose": "collections",
                                           "delay_minutes": 5}]}))
    monkeypatch.setenv("DIALWISE_TOUCH_RULES", str(path))
    assert [(r.id, r.delay_minutes) for r in load_rules()] == [("slow", 5)]
    path.write_text("{oops")
    with pytest.raises(UserError, match="not valid JSON"):
        load_rules()


@pytest.mark.timeout(180)
def test_bench_events_places_every_touch_well_within_a_minute(db_url):
    """The real worker process (its queue on this database) dials every touch the HTTP events made."""
    from agent.lifecycle.bench_events import bench_events

    base = db_url.split("?", 1)[0] if db_url.startswith("postgresql") else None
    out = bench_events(n=6, interval_s=0.05, hold_s=0.2, database_url=base)
    assert out["errors"] == 0 and out["dials_placed"] == 6 and out["done"] == 6, out
    assert out["queue"] == ("procrastinate" if base else "embedded")
    assert out["latency_s"]["p95"] < 60

"""Storage: migrations, turn-by-turn writes, the outbox, and claiming attempts without double work."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select

from agent.call_store import CallStore, TurnRecord
from agent.store import get_engine, init_db, session_scope
from agent.store.models import Account, Attempt, Call, OptOut, OutboxEvent, Outcome, Turn

pytestmark = pytest.mark.db


def _account(s, **kw) -> Account:
    acc = Account(name=kw.get("name", "王芳"), phone=kw.get("phone", "+8613800138000"), language="zh",
                  balance=2000.0, currency="CNY", days_past_due=5, id_last4="1234")
    s.add(acc)
    s.flush()
    return acc


def test_migrations_create_every_table_and_are_idempotent(db_url):
    init_db(db_url)  # second run: nothing to do, no error
    names = set(inspect(get_engine(db_url)).get_table_names())
    for table in ("accounts", "campaigns", "attempts", "calls", "turns", "outcomes", "opt_outs",
                  "outbox_events", "webhook_subscriptions", "webhook_deliveries", "api_keys", "alembic_version"):
        assert table in names


def test_turns_are_committed_as_they_happen_and_survive_a_dead_call(db_url):
    with session_scope(db_url) as s:
        acc = _account(s)
        call = Call(account_id=acc.id, script_id="collections_m1_zh_a", language="zh")
        s.add(call)
        s.flush()
        call_id = call.id
    store = CallStore(call_id, db_url)
    store.mark_live()
    store.add_turn(TurnRecord("agent", "您好，请问是王芳吗？", 0, 1800, node="greet"))
    tid = store.add_turn(TurnRecord("callee", "对，是我", 2100, 2900, intent="confirm_identity",
                                    confidence=0.97, entities={"amount": None}))
    store.update_turn(tid, latency={"voice_to_voice_ms": 640.0})
    # the call process dies here: nothing else is written; what was said is already durable
    with session_scope(db_url) as s:
        turns = list(s.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.seq)))
        assert [t.speaker for t in turns] == ["agent", "callee"]
        assert turns[1].latency["voice_to_voice_ms"] == 640.0
        assert s.get(Call, call_id).status == "live"
        assert s.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.type == "call.started")) == 1


def test_finish_writes_outcome_events_and_opt_out_in_one_transaction(db_url):
    with session_scope(db_url) as s:
        acc = _account(s, phone="+15551230000")
        call = Call(account_id=acc.id, script_id="collections_m1_en_a", language="en")
        s.add(call)
        s.flush()
        call_id = call.id
    CallStore(call_id, db_url).finish("opted_out", {"reason": "stop"}, "completed", None)
    with session_scope(db_url) as s:
        assert s.scalar(select(Outcome.kind).where(Outcome.call_id == call_id)) == "opted_out"
        types = set(s.scalars(select(OutboxEvent.type)))
        assert {"call.completed", "optout.created"} <= types
        assert s.scalar(select(OptOut.phone)) == "+15551230000"


def test_ptp_outcome_keeps_amount_and_date(db_url):
    with session_scope(db_url) as s:
        acc = _account(s)
        call = Call(account_id=acc.id, script_id="collections_m1_zh_a", language="zh")
        s.add(call)
        s.flush()
        call_id = call.id
    CallStore(call_id, db_url).finish("ptp", {"pay_amount": 1500, "pay_date": "2026-11-27", "plan": "full"},
                                      "completed", "/tmp/x.wav")
    with session_scope(db_url) as s:
        row = s.scalar(select(Outcome).where(Outcome.call_id == call_id))
        assert row.promise_amount == 1500.0 and row.promise_date.isoformat() == "2026-11-27"
        assert "ptp.created" in set(s.scalars(select(OutboxEvent.type)))


def test_two_workers_never_claim_the_same_attempt(db_url):
    """Admission is the only claim: two workers polling the same due attempts (the embedded queue's
    way) take each once, and not the one that is not due yet."""
    from agent.store.models import Campaign
    from agent.worker.admit import admit, due_attempts

    now = datetime.now(UTC)
    with session_scope(db_url) as s:
        camp = Campaign(name="c", status="running", max_concurrent=100)
        s.add(camp)
        s.flush()
        for i in range(40):
            acc = _account(s, phone=f"+86138001{i:05d}")
            s.add(Attempt(campaign_id=camp.id, account_id=acc.id, script_id="collections_m1_zh_a", phone=acc.phone,
                          not_before=now - timedelta(minutes=i)))
        s.add(Attempt(campaign_id=camp.id, account_id=acc.id, script_id="x", phone=acc.phone,
                      not_before=now + timedelta(hours=1)))
    got: dict[str, list[str]] = {"a": [], "b": []}

    def worker(name: str) -> None:
        while True:
            ids = due_attempts(3, now=now, db_url=db_url)
            if not ids:
                return
            got[name].extend(i for i in ids if admit(i, name, now=now, db_url=db_url).ok)

    threads = [threading.Thread(target=worker, args=(n,)) for n in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = got["a"] + got["b"]
    assert len(claimed) == 40 and len(set(claimed)) == 40  # all due work, none twice, not the future one
    with session_scope(db_url) as s:
        by = dict(s.execute(select(Attempt.id, Attempt.claimed_by).where(Attempt.status == "claimed")).all())
        assert by == {i: n for n, ids in got.items() for i in ids}
        assert s.scalar(select(func.count()).select_from(Attempt).where(Attempt.status == "planned")) == 1


def test_a_paused_campaign_is_not_dialled(db_url):
    from agent.store.models import Campaign
    from agent.worker.admit import admit, due_attempts

    now = datetime.now(UTC)
    with session_scope(db_url) as s:
        one, two = _account(s), _account(s, phone="+8613800138009")
        paused = Campaign(name="p", status="paused")
        running = Campaign(name="r", status="running")
        s.add_all([paused, running])
        s.flush()
        held = Attempt(campaign_id=paused.id, account_id=one.id, script_id="x", phone=one.phone, not_before=now)
        s.add_all([held, Attempt(campaign_id=running.id, account_id=two.id, script_id="x", phone=two.phone,
                                 not_before=now)])
        s.flush()
        running_id, paused_id, held_id = running.id, paused.id, held.id
    due = due_attempts(10, now=now, db_url=db_url)
    assert admit(held_id, "w", now=now, db_url=db_url).verdict == "paused"  # asked anyway: still no
    with session_scope(db_url) as s:
        assert [s.get(Attempt, i).campaign_id for i in due] == [running_id]
        assert s.get(Attempt, held_id).status == "planned"
        s.get(Campaign, paused_id).status = "running"  # resume
    assert due_attempts(10, now=now, campaign_id=paused_id, db_url=db_url) == [held_id]
    assert admit(held_id, "w", now=now, db_url=db_url).ok


def test_follow_ups_retry_with_backoff_and_honour_call_backs(db_url):
    from agent.dialing.place import schedule_follow_up
    from agent.store.models import Campaign

    now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    with session_scope(db_url) as s:
        acc = _account(s)
        acc.timezone = "Asia/Shanghai"
        camp = Campaign(name="c", status="running", max_attempts=3)
        s.add(camp)
        s.flush()
        first = Attempt(campaign_id=camp.id, account_id=acc.id, script_id="x", phone=acc.phone, not_before=now)
        s.add(first)
        s.flush()
        first_id = first.id
    second = schedule_follow_up(first_id, "no_answer", {}, now=now, db_url=db_url)
    third = schedule_follow_up(second, "busy", {}, now=now, db_url=db_url)
    assert schedule_follow_up(third, "no_answer", {}, now=now, db_url=db_url) is None  # max attempts reached
    with session_scope(db_url) as s:
        a2, a3 = s.get(Attempt, second), s.get(Attempt, third)
        assert (a2.attempt_no, a3.attempt_no) == (2, 3)
        assert _utc(a2.not_before) - now == timedelta(minutes=30)
        assert _utc(a3.not_before) - now == timedelta(minutes=60)
    cb = schedule_follow_up(first_id, "callback", {"callback_date": "2026-11-24", "callback_time": "15:00"},
                            now=now, db_url=db_url)
    with session_scope(db_url) as s:  # 15:00 in Shanghai is 07:00 UTC
        assert _utc(s.get(Attempt, cb).not_before) == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert schedule_follow_up(first_id, "ptp", {}, now=now, db_url=db_url) is None


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def test_the_dial_time_gate_refuses_an_opt_out_recorded_after_planning(db_url):
    """The gate is asked again right before each dial (`prepare_attempt`, the dial path's first step): an
    opt-out that arrived after the plan was made (here through another channel, under the account) blocks
    the dial and is logged with its rule; the other account's dial goes ahead."""
    from agent.dialing.place import Blocked, Prepared, prepare_attempt
    from agent.store.models import Campaign, ComplianceBlock

    at = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 11:00 on a Monday in Shanghai
    with session_scope(db_url) as s:
        camp = Campaign(name="c", status="running")
        s.add(camp)
        accs = [_account(s, phone="+8613800138001"), _account(s, phone="+8613800138002")]
        s.flush()
        ids = []
        for acc in accs:
            acc.timezone, acc.jurisdiction = "Asia/Shanghai", "CN"
            att = Attempt(campaign_id=camp.id, account_id=acc.id, script_id="collections_m1_zh_a", phone=acc.phone,
                          not_before=at)
            s.add(att)
            s.flush()
            ids.append(att.id)
        quitter = accs[0].id
    with session_scope(db_url) as s:  # after planning, the callee opts out by text message, from another phone
        s.add(OptOut(phone="+8613900000000", account_id=quitter, channel="sms"))
    refused = prepare_attempt(ids[0], "loopback", at=at, db_url=db_url)
    assert isinstance(refused, Blocked) and refused.rule == "opt_out"
    allowed = prepare_attempt(ids[1], "loopback", at=at, db_url=db_url)
    assert isinstance(allowed, Prepared)  # the other account is unaffected
    with session_scope(db_url) as s:
        blocks = s.scalars(select(ComplianceBlock)).all()
        assert [(b.attempt_id, b.account_id, b.rule) for b in blocks] == [(ids[0], quitter, "opt_out")]
        assert (s.get(Attempt, ids[0]).status, s.get(Attempt, ids[0]).blocked_rule) == ("blocked", "opt_out")
        assert s.get(Attempt, ids[1]).status == "dialing"
        assert s.scalar(select(func.count()).select_from(Call).where(Call.attempt_id == ids[0])) == 0

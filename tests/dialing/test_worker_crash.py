"""Crash safety: a worker killed with SIGKILL mid-call, a worker stopped with SIGTERM, and the sweep of a
worker whose heartbeat stopped on another machine. On SQLite (embedded queue) and PostgreSQL
(procrastinate)."""
from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from agent.store import session_scope
from agent.store.models import Attempt, Call, OutboxEvent, Turn, Worker
from agent.worker.hold import read_log
from agent.worker.sweep import LOST_DETAIL, sweep_lost
from tests.worker_support import (  # noqa: F401  (fixtures)
    SCRIPT,
    any_url,
    seed_campaign,
    spawn_worker,
    stop,
    wait_for,
    wait_ready,
)

pytestmark = [pytest.mark.db, pytest.mark.timeout(180)]


def _call_of(url: str, attempt_id: str) -> Call | None:
    with session_scope(url) as s:
        return s.scalar(select(Call).where(Call.attempt_id == attempt_id))


def _turns(url: str, call_id: str) -> int:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(Turn).where(Turn.call_id == call_id))


def _attempt(url: str, attempt_id: str) -> Attempt:
    with session_scope(url) as s:
        return s.get(Attempt, attempt_id)


def test_sigkill_mid_call_interrupts_the_call_and_never_redials_blind(any_url, tmp_path):
    url = any_url
    # a US debtor: after a conversation the gate allows no call about the debt for 7 days
    camp_id, (attempt_id,) = seed_campaign(url, 1, jurisdiction="US")
    log = tmp_path / "dials.jsonl"
    victim = spawn_worker(url, tmp_path, hold=120, concurrency=2, log=log, name="victim")
    victim_id = wait_ready(victim)
    call = wait_for(lambda: (c := _call_of(url, attempt_id)) and c.status == "live" and _turns(url, c.id) and c,
                    30, "the call to be live with a stored turn")
    assert call.worker_id == victim_id
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=10) == -signal.SIGKILL

    rescuer = spawn_worker(url, tmp_path, hold=0.5, concurrency=2, log=log, name="rescuer")
    try:
        wait_ready(rescuer)
        ended = wait_for(lambda: (c := _call_of(url, attempt_id)) and c.status == "ended" and c, 20,
                         "the lost call to end")
        assert (ended.outcome, ended.end_reason) == ("interrupted", "interrupted")
        assert _turns(url, call.id) >= 1  # the stored turn is kept
        att = _attempt(url, attempt_id)
        assert (att.status, att.result, att.detail) == ("failed", "failed", LOST_DETAIL)
        assert att.dialed_at is not None
        with session_scope(url) as s:
            events = [e.payload for e in s.scalars(select(OutboxEvent).where(OutboxEvent.type == "call.completed"))]
            assert [e["outcome"] for e in events if e["call_id"] == call.id] == ["interrupted"]
            assert s.get(Worker, victim_id).stopped_at is not None
            # the planner plans a new touch for the same debtor: the gate must count the first dial
            redial = Attempt(campaign_id=camp_id, account_id=att.account_id, script_id=SCRIPT, phone=att.phone,
                             status="planned", not_before=datetime.now(UTC), attempt_no=2)
            s.add(redial)
            s.flush()
            redial_id = redial.id
        blocked = wait_for(lambda: (a := _attempt(url, redial_id)).status not in ("planned", "claimed") and a,
                           30, "the re-dial to be judged")
        assert (blocked.status, blocked.blocked_rule) == ("blocked", "us_7_days_after_conversation")
    finally:
        code = stop(rescuer)
    assert code == 0
    assert [e["attempt_id"] for e in read_log(log) if e["event"] == "dial"] == [attempt_id]  # dialled once


def test_sigterm_lets_the_live_call_finish_and_dials_nothing_new(any_url, tmp_path):
    url = any_url
    _, (first, second) = seed_campaign(url, 2)
    log = tmp_path / "dials.jsonl"
    worker = spawn_worker(url, tmp_path, hold=3, concurrency=1, log=log)
    wait_ready(worker)
    live = wait_for(lambda: [a for a in (first, second) if (c := _call_of(url, a)) and c.status == "live"],
                    30, "a live call")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    done, = live
    left = second if done == first else first
    call = _call_of(url, done)
    assert (call.status, call.outcome, call.end_reason) == ("ended", "hung_up", "completed")
    assert _attempt(url, done).status == "done"
    assert _attempt(url, left).status == "planned" and _call_of(url, left) is None
    assert [e["attempt_id"] for e in read_log(log) if e["event"] == "dial"] == [done]
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(Worker).where(Worker.stopped_at.is_(None))) == 0


def test_a_silent_worker_on_another_machine_is_swept(db_url):
    """Heartbeat older than WORKER_LOST_S: its live call ends interrupted, its dialling attempt is closed
    (no retry planned), its claimed attempt goes back to planned; a fresh worker is left alone."""
    from tests.worker_support import seed_campaign as seed

    _, (dialing, claimed, fresh) = seed(db_url, 3)
    old = datetime.now(UTC) - timedelta(seconds=60)
    with session_scope(db_url) as s:
        s.add(Worker(id="elsewhere:1:aa", host="elsewhere", pid=1, kind="worker", started_at=old, heartbeat_at=old))
        s.add(Worker(id="elsewhere:2:bb", host="elsewhere", pid=2, kind="worker"))
        for attempt_id, status, owner in ((dialing, "dialing", "elsewhere:1:aa"),
                                          (claimed, "claimed", "elsewhere:1:aa"),
                                          (fresh, "dialing", "elsewhere:2:bb")):
            att = s.get(Attempt, attempt_id)
            att.status, att.claimed_by = status, owner
            if status == "dialing":
                att.dialed_at = old
                s.add(Call(account_id=att.account_id, script_id=SCRIPT, language="en", attempt_id=att.id,
                           campaign_id=att.campaign_id, status="live", started_at=old, worker_id=owner))
    report = sweep_lost(15, db_url=db_url)
    assert report.workers == ["elsewhere:1:aa"]
    assert ((len(report.calls_interrupted), report.attempts_closed, report.attempts_released)
            == (1, [dialing], [claimed]))
    assert _call_of(db_url, dialing).outcome == "interrupted"
    assert _attempt(db_url, dialing).status == "failed"
    assert _attempt(db_url, claimed).status == "planned" and _attempt(db_url, claimed).claimed_by is None
    assert _call_of(db_url, fresh).status == "live" and _attempt(db_url, fresh).status == "dialing"
    with session_scope(db_url) as s:  # failed is not retried: no new attempt
        assert s.scalar(select(func.count()).select_from(Attempt)) == 3
    assert not sweep_lost(15, db_url=db_url)  # idempotent


def test_a_slow_worker_alive_on_this_host_is_not_swept_until_it_is_hung(db_url):
    """A live process on this host whose heartbeat is late (several workers queue on SQLite's write lock)
    keeps its call; silent for more than 4 x WORKER_LOST_S it counts as hung and is swept; a dead pid is
    swept at once whatever its heartbeat says."""
    import os
    import subprocess
    import sys

    from agent.worker.identity import host_name
    from tests.worker_support import seed_campaign as seed

    _, (slow, dead) = seed(db_url, 2)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    now = datetime.now(UTC)
    late = now - timedelta(seconds=40)  # > WORKER_LOST_S (15), < 4 x 15
    with session_scope(db_url) as s:
        s.add(Worker(id="here:slow", host=host_name(), pid=os.getpid(), kind="worker", started_at=late,
                     heartbeat_at=late))
        s.add(Worker(id="here:dead", host=host_name(), pid=gone.pid, kind="worker", started_at=now,
                     heartbeat_at=now))
        for attempt_id, owner in ((slow, "here:slow"), (dead, "here:dead")):
            att = s.get(Attempt, attempt_id)
            att.status, att.claimed_by, att.dialed_at = "dialing", owner, now
            s.add(Call(account_id=att.account_id, script_id=SCRIPT, language="en", attempt_id=att.id,
                       campaign_id=att.campaign_id, status="live", started_at=now, worker_id=owner))
    report = sweep_lost(15, db_url=db_url)
    assert report.workers == ["here:dead"]
    assert _call_of(db_url, slow).status == "live" and _call_of(db_url, dead).outcome == "interrupted"
    report = sweep_lost(15, now=now + timedelta(seconds=30), db_url=db_url)  # silent 70 s > 60 s
    assert report.workers == ["here:slow"] and _call_of(db_url, slow).outcome == "interrupted"

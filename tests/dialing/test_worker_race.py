"""Two worker processes race on 200 due attempts through procrastinate on PostgreSQL: every attempt is
dialled exactly once, and no debtor is ever in two calls at once."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from agent.store import session_scope
from agent.store.models import Attempt, Call, Worker
from agent.worker.hold import debtor_overlaps, double_dials, read_log
from tests.worker_support import pg_url, seed_campaign, spawn_worker, stop, wait_for, wait_ready  # noqa: F401

pytestmark = [pytest.mark.db, pytest.mark.timeout(240)]


def test_two_workers_dial_200_attempts_once_each(pg_url, tmp_path):
    # 150 debtors for 200 attempts: 50 debtors have two attempts due at once, which must never overlap
    camp_id, ids = seed_campaign(pg_url, 200, accounts=150, max_concurrent=100)
    log = tmp_path / "dials.jsonl"
    procs = [spawn_worker(pg_url, tmp_path, hold=0.3, concurrency=6, log=log, name=f"w{i}") for i in range(2)]
    try:
        workers = [wait_ready(p) for p in procs]

        def settled():
            with session_scope(pg_url) as s:
                return s.scalar(select(func.count()).select_from(Attempt)
                                .where(Attempt.status.in_(("planned", "claimed", "dialing")))) == 0

        wait_for(settled, 180, "every attempt to be dialled")
    finally:
        codes = [stop(p) for p in procs]
    assert codes == [0, 0]
    entries = read_log(log)
    dials = [e for e in entries if e["event"] == "dial"]
    assert double_dials(entries) == 0
    assert debtor_overlaps(entries) == 0
    with session_scope(pg_url) as s:
        statuses = dict(s.execute(select(Attempt.status, func.count()).group_by(Attempt.status)).all())
        by_worker = dict(s.execute(select(Call.worker_id, func.count()).group_by(Call.worker_id)).all())
        calls = s.scalar(select(func.count()).select_from(Call))
        stopped = s.scalar(select(func.count()).select_from(Worker).where(Worker.stopped_at.is_not(None)))
    # the gate allows a debtor's second dial of the day (CN: up to 6 a number), so all 200 are dialled
    assert statuses == {"done": 200}, statuses
    assert len(dials) == calls == 200
    assert {e["attempt_id"] for e in dials} == set(ids)
    assert set(by_worker) == set(workers) and min(by_worker.values()) > 20, by_worker  # both took a share
    assert stopped == 2

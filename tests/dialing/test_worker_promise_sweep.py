"""The call workers run the broken-promise sweep by themselves (every PROMISE_SWEEP_S): an unpaid promise
past its grace days turns broken without `dialwise promises sweep`, once, however many workers sweep;
a promise still inside its window stays pending. SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agent.config import Settings
from agent.store.db import session_scope
from agent.store.lifecycle_models import Promise
from agent.store.models import OutboxEvent
from agent.worker.hold import HoldDialer
from agent.worker.runtime import Runtime
from tests.lifecycle_support import make_account

pytestmark = [pytest.mark.db, pytest.mark.timeout(120)]


def _promises(url: str) -> dict[str, str]:
    today = datetime.now(UTC).date()
    acc_zh = make_account(url, "sweep-zh", "zh")
    acc_en = make_account(url, "sweep-en", "en")
    with session_scope(url) as s:
        rows = {
            "overdue_zh": Promise(account_id=acc_zh, amount=3000.0, currency="CNY", due_date=today - timedelta(days=10),
                                  promised_at=datetime.now(UTC) - timedelta(days=14)),
            "overdue_en": Promise(account_id=acc_en, amount=250.0, currency="USD", due_date=today - timedelta(days=4),
                                  promised_at=datetime.now(UTC) - timedelta(days=6)),
            "in_grace": Promise(account_id=acc_en, amount=90.0, currency="USD", due_date=today - timedelta(days=1),
                                promised_at=datetime.now(UTC) - timedelta(days=3), call_id=None),
            "future": Promise(account_id=acc_zh, amount=500.0, currency="CNY", due_date=today + timedelta(days=3),
                              promised_at=datetime.now(UTC) - timedelta(hours=1)),
        }
        s.add_all(rows.values())
        s.flush()
        return {k: p.id for k, p in rows.items()}


def _status(url: str) -> dict[str, str]:
    with session_scope(url) as s:
        return {p.id: p.status for p in s.scalars(select(Promise))}


def _broken_events(url: str) -> list[str]:
    with session_scope(url) as s:
        events = s.scalars(select(OutboxEvent).where(OutboxEvent.type == "promise.broken")).all()
        assert all(e.payload["status"] == "broken" and e.payload["closed_at"] for e in events)
        return sorted(e.payload["id"] for e in events)


def _runtime(url: str, sweep_s: float) -> Runtime:
    settings = Settings(database_url=url, promise_sweep_s=sweep_s, worker_heartbeat_s=0.5)
    return Runtime(kind="worker", db_url=url, take_attempts=False, settings=settings,
                   dialers=lambda network: HoldDialer(0.1, db_url=url))


async def _until(cond, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.1)


def test_workers_sweep_broken_promises_by_themselves_once(db_url):
    ids = _promises(db_url)
    assert set(_status(db_url).values()) == {"pending"}

    async def main() -> None:
        workers = [_runtime(db_url, 0.3), _runtime(db_url, 0.3)]  # two processes' worth of sweepers
        for w in workers:
            await w.start()
        try:
            await _until(lambda: _status(db_url)[ids["overdue_en"]] == "broken", 10, "the overdue promises break")
            await asyncio.sleep(1.5)  # several more passes of both workers
        finally:
            for w in workers:
                await w.stop(grace=1)

    asyncio.run(main())
    status = _status(db_url)
    assert status[ids["overdue_zh"]] == "broken" and status[ids["overdue_en"]] == "broken"
    # due yesterday: still inside the 2 grace days; due in 3 days: pending
    assert status[ids["in_grace"]] == "pending" and status[ids["future"]] == "pending"
    assert _broken_events(db_url) == sorted([ids["overdue_zh"], ids["overdue_en"]])  # one webhook each


def test_the_sweep_runs_again_after_its_period(db_url):
    """A promise whose window passes while the worker runs breaks at the next pass, not only at start."""
    ids = _promises(db_url)

    async def main() -> None:
        rt = _runtime(db_url, 0.5)
        await rt.start()
        try:
            await _until(lambda: _status(db_url)[ids["overdue_zh"]] == "broken", 10, "the first pass")
            with session_scope(db_url) as s:  # the in-grace promise's window has now passed
                s.get(Promise, ids["in_grace"]).due_date = datetime.now(UTC).date() - timedelta(days=5)
            await _until(lambda: _status(db_url)[ids["in_grace"]] == "broken", 10, "a later pass")
        finally:
            await rt.stop(grace=1)

    asyncio.run(main())
    assert len(_broken_events(db_url)) == 3 and _status(db_url)[ids["future"]] == "pending"

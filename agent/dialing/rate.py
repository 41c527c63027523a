"""Carrier limits on dials per second, held across every worker through the database.

Each limit is one `rate_slots` row holding the next free instant. Taking a slot is one short
transaction (a row lock on PostgreSQL; SQLite serialises writers), so workers on any number of
machines never exceed the limit together; each then sleeps until its own slot.
"""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from agent.store import session_scope
from agent.store.models import RateSlot
from agent.timeutil import aware


def take_slot(key: str, per_second: float, *, now: datetime | None = None, db_url: str | None = None) -> datetime:
    """Reserve the next dial instant under `key` (at most `per_second` dials a second); returns it."""
    if per_second <= 0:
        raise ValueError("a calls-per-second limit must be positive")
    gap = timedelta(seconds=1.0 / per_second)
    for _ in range(3):  # the first taker of a new key may race another one to create its row
        now_ = now or datetime.now(UTC)
        try:
            with session_scope(db_url) as s:
                if s.get_bind().dialect.name == "sqlite":  # take SQLite's write lock before reading
                    s.execute(update(RateSlot).where(RateSlot.key == key).values(next_at=RateSlot.next_at))
                stmt = select(RateSlot).where(RateSlot.key == key)
                if s.get_bind().dialect.name == "postgresql":
                    stmt = stmt.with_for_update()
                row = s.scalar(stmt)
                if row is None:
                    s.add(RateSlot(key=key, next_at=now_ + gap))
                    s.flush()
                    return now_
                slot = max(now_, aware(row.next_at))
                row.next_at = slot + gap
                return slot
        except IntegrityError:
            continue
    raise RuntimeError(f"could not take a dial slot for {key!r}")


async def wait_for_slot(key: str, per_second: float, *, db_url: str | None = None) -> float:
    """Take a slot and sleep until it; returns the seconds waited."""
    slot = await asyncio.to_thread(take_slot, key, per_second, db_url=db_url)
    wait = (slot - datetime.now(UTC)).total_seconds()
    if wait > 0:
        await asyncio.sleep(wait)
    return max(0.0, wait)

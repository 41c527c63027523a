"""Carrier limits on dials per second, held across every worker through the database.

Each limit is one `rate_slots` row holding the earliest instant of the next dial. Claiming it is one
short transaction (a row lock on PostgreSQL; SQLite serialises writers), made at the moment of the
dial, so workers on any number of machines never dial closer together than the limit allows; a
worker that finds the slot not yet due sleeps until it is and tries again.
"""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from agent.store import session_scope
from agent.store.models import RateSlot
from agent.timeutil import aware


def claim_slot(key: str, per_second: float, *, now: datetime | None = None,
               db_url: str | None = None) -> tuple[datetime | None, float]:
    """Claim the dial instant under `key` if it is due: `(now, 0.0)`, and the next dial may come one
    gap later. If it is not due yet, nothing is written: `(None, seconds until it is)`.

    The slot is claimed at the instant of the dial, not reserved ahead of it: a dial that wakes late
    (a busy event loop, a slow database) pushes the next one back, so the carrier never sees two
    dials closer than the gap.
    """
    if per_second <= 0:
        raise ValueError("a calls-per-second limit must be positive")
    gap = timedelta(seconds=1.0 / per_second)
    for _ in range(3):  # the first taker of a new key may race another one to create its row
        try:
            with session_scope(db_url) as s:
                if s.get_bind().dialect.name == "sqlite":  # take SQLite's write lock before reading
                    s.execute(update(RateSlot).where(RateSlot.key == key).values(next_at=RateSlot.next_at))
                stmt = select(RateSlot).where(RateSlot.key == key)
                if s.get_bind().dialect.name == "postgresql":
                    stmt = stmt.with_for_update()
                row = s.scalar(stmt)
                now_ = now or datetime.now(UTC)  # read under the lock: every claimer's clock moves forward
                if row is None:
                    s.add(RateSlot(key=key, next_at=now_ + gap))
                    s.flush()
                    return now_, 0.0
                due = aware(row.next_at)
                if due > now_:
                    return None, (due - now_).total_seconds()
                row.next_at = now_ + gap
                return now_, 0.0
        except IntegrityError:
            continue
    raise RuntimeError(f"could not take a dial slot for {key!r}")


async def wait_for_slot(key: str, per_second: float, *, db_url: str | None = None) -> float:
    """Sleep until a dial slot under `key` is claimed; returns the seconds waited."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        claimed, wait = await asyncio.to_thread(claim_slot, key, per_second, db_url=db_url)
        if claimed is not None:
            return loop.time() - started
        await asyncio.sleep(wait)

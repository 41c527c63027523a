"""The embedded queue (no broker): poll the database for due attempts, admit each
(`agent.worker.admit`), and run it on a free line. The database is the only truth, so several
processes on one database share the work safely (SQLite serialises the claims; PostgreSQL locks rows).

It serves `dialwise worker` and `dialwise serve` on SQLite, and every in-process run (`dialwise demo`,
`dialwise campaigns run`, the benches) on either database, as a `Batch`: one campaign's attempts due by
an instant, until none is left."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.timeutil import aware
from agent.worker.admit import admit, due_attempts
from agent.worker.lines import Lines

log = logging.getLogger("dialwise.worker")

POLL_S = 0.5  # campaign start, pause and max_concurrent act within this (the target is 2 s)
BATCH_GIVE_UP_S = 30.0


@dataclass(frozen=True)
class Batch:
    """Take one campaign's due attempts that exist when the batch starts (the retries and call-backs it
    plans wait for a later run or a worker), then stop once none is left and every line is free."""

    campaign_id: str | None = None  # None: every running campaign's, and one-off attempts
    at: datetime | None = None  # due by this instant (None: by now, as time passes)
    simulated_clock: bool = False  # dial each attempt at its own slot (the demo's day, compressed)


class EmbeddedQueue:
    kind = "embedded"

    def __init__(self, lines: Lines, concurrency: int, *, db_url: str | None = None, poll_s: float = POLL_S,
                 batch: Batch | None = None) -> None:
        self.lines = lines
        self.concurrency = concurrency
        self.db_url = db_url
        self.poll_s = poll_s
        self.batch = batch
        self._stop = asyncio.Event()
        self._started: datetime | None = None  # a batch takes the attempts that existed by then

    def stop(self) -> None:
        """Take nothing new; the calls in progress go on (see `Lines.drain`)."""
        self._stop.set()

    def _now(self) -> datetime:
        at = self.batch.at if self.batch else None
        return aware(at) if at is not None else datetime.now(UTC)  # a naive instant is UTC, as stored

    async def run(self) -> None:
        """Until stopped (a batch: until nothing is due and no call is running). A batch whose polls keep
        failing for BATCH_GIVE_UP_S raises the last error instead of waiting for ever."""
        failing_since: float | None = None
        self._started = datetime.now(UTC) if self.batch is not None else None
        while not self._stop.is_set():
            self.lines.freed.clear()
            try:
                due = await self._fill()
                failing_since = None
            except Exception:  # the database went away for a moment: try again at the next poll
                log.warning("polling for due attempts failed", exc_info=True)
                due = None
                failing_since = failing_since or time.monotonic()
                if self.batch is not None and time.monotonic() - failing_since > BATCH_GIVE_UP_S:
                    raise
            if self.batch is not None and due == 0 and not self.lines.busy:
                return
            waits = [asyncio.ensure_future(self._stop.wait()), asyncio.ensure_future(self.lines.freed.wait())]
            await asyncio.wait(waits, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()

    async def _fill(self) -> int | None:
        """Start what may start on the free lines; returns how many attempts were due (None: no line
        was free to look)."""
        free = self.concurrency - self.lines.busy
        if free <= 0:
            return None
        now = self._now()
        campaign_id = self.batch.campaign_id if self.batch else None
        ids = await asyncio.to_thread(due_attempts, free * 4, now=now, campaign_id=campaign_id,
                                      created_by=self._started, db_url=self.db_url)
        for attempt_id in ids:
            if free <= 0 or self._stop.is_set():
                break
            adm = await asyncio.to_thread(admit, attempt_id, self.lines.identity.id, now=now, db_url=self.db_url)
            if adm.ok:
                self.lines.start(attempt_id, adm.network)
                free -= 1
        return len(ids)

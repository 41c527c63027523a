"""The embedded queue (SQLite, one machine, no broker): poll the database for due attempts, admit
each (`agent.worker.admit`), and run it on a free line. The database is the only truth, so several
processes on one SQLite file share the work safely (SQLite serialises the claims)."""
from __future__ import annotations

import asyncio
import logging

from agent.worker.admit import admit, due_attempts
from agent.worker.lines import Lines

log = logging.getLogger("dialwise.worker")

POLL_S = 0.5  # campaign start, pause and max_concurrent act within this (the target is 2 s)


class EmbeddedQueue:
    kind = "embedded"

    def __init__(self, lines: Lines, concurrency: int, *, db_url: str | None = None, poll_s: float = POLL_S) -> None:
        self.lines = lines
        self.concurrency = concurrency
        self.db_url = db_url
        self.poll_s = poll_s
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Take nothing new; the calls in progress go on (see `Lines.drain`)."""
        self._stop.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            self.lines.freed.clear()
            try:
                await self._fill()
            except Exception:  # the database went away for a moment: try again at the next poll
                log.warning("polling for due attempts failed", exc_info=True)
            waits = [asyncio.ensure_future(self._stop.wait()), asyncio.ensure_future(self.lines.freed.wait())]
            await asyncio.wait(waits, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()

    async def _fill(self) -> None:
        free = self.concurrency - self.lines.busy
        if free <= 0:
            return
        ids = await asyncio.to_thread(due_attempts, free * 4, db_url=self.db_url)
        for attempt_id in ids:
            if free <= 0 or self._stop.is_set():
                return
            adm = await asyncio.to_thread(admit, attempt_id, self.lines.identity.id, db_url=self.db_url)
            if adm.ok:
                self.lines.start(attempt_id, adm.network)
                free -= 1

"""A carrier's calls-per-second limit, held across every worker that places calls on one account.

Each placement holds a lock for at least 1/cps seconds, so placements on one key start at
least 1/cps apart wherever they come from:
- PostgreSQL (any number of machines): a session-level advisory lock on the key;
- otherwise (one machine): an flock on a file under VAR_DIR/locks.
Inside a process, waiters queue on an asyncio lock first, so no thread sits blocked on the lock.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any


def _key64(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class CpsLimiter:
    def __init__(self, key: str, cps: float, *, db_url: str | None = None, lock_dir: Path | None = None) -> None:
        if cps <= 0:
            raise ValueError("cps must be positive")
        self.key = key
        self.interval = 1.0 / cps
        self.db_url = db_url or ""
        self.lock_dir = Path(lock_dir or "var/locks")
        self._local: dict[int, asyncio.Lock] = {}  # one per event loop
        self.waited_s = 0.0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold the account's placement slot: the body (the REST request) and then the rest of 1/cps."""
        loop = asyncio.get_running_loop()
        local = self._local.setdefault(id(loop), asyncio.Lock())
        t_wait = time.monotonic()
        async with local:
            handle = await asyncio.to_thread(self._acquire)
            t0 = time.monotonic()
            self.waited_s += t0 - t_wait
            try:
                yield
            finally:
                rest = self.interval - (time.monotonic() - t0)
                if rest > 0:
                    await asyncio.sleep(rest)
                await asyncio.to_thread(self._release, handle)

    # --- the cross-process lock --------------------------------------------------------------
    def _acquire(self) -> Any:
        if self.db_url.startswith("postgresql"):
            from sqlalchemy import text

            from agent.store.db import engine_for

            conn = engine_for(self.db_url).connect()
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _key64("cps:" + self.key)})
            conn.commit()
            return ("pg", conn)
        import fcntl

        self.lock_dir.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(self.key.encode()).hexdigest()[:16]
        fd = os.open(self.lock_dir / f"cps-{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return ("file", fd)

    def _release(self, handle: Any) -> None:
        kind, obj = handle
        if kind == "pg":
            from sqlalchemy import text

            try:
                obj.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key64("cps:" + self.key)})
                obj.commit()
            finally:
                obj.close()
            return
        import fcntl

        try:
            fcntl.flock(obj, fcntl.LOCK_UN)
        finally:
            os.close(obj)

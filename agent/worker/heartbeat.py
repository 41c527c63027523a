"""A call-running process that is not a queue worker (`dialwise campaigns run`, `dialwise demo`):
registered, beating and sweeping for as long as it runs calls."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from agent.config import get_settings
from agent.worker.identity import WorkerIdentity
from agent.worker.sweep import release_work, sweep_lost

log = logging.getLogger("dialwise.worker")


@asynccontextmanager
async def beating(kind: str, db_url: str | None = None) -> AsyncIterator[WorkerIdentity]:
    settings = get_settings()
    identity = await asyncio.to_thread(WorkerIdentity(kind, db_url).register)
    await asyncio.to_thread(sweep_lost, settings.worker_lost_s, me=identity.id, db_url=db_url)

    async def beat() -> None:
        while True:
            await asyncio.sleep(settings.worker_heartbeat_s)
            try:
                await asyncio.to_thread(identity.beat)
                await asyncio.to_thread(sweep_lost, settings.worker_lost_s, me=identity.id, db_url=db_url)
            except Exception:  # the database is away for a moment; the calls go on
                log.warning("heartbeat failed", exc_info=True)

    task = asyncio.create_task(beat(), name="heartbeat")
    try:
        yield identity
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(release_work, identity.id, reason="interrupted: worker stopped", db_url=db_url)
        await asyncio.to_thread(identity.stop)

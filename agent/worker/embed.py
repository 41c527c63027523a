"""The worker inside `dialwise serve`: the app's lifespan starts and stops it.

Always: this server's `workers` row, heartbeat and the lost-worker sweep (so a server restarted after a
crash ends its previous process's calls as interrupted at once, and the live monitor shows no ghost).
When `dials` (SERVE_DIALS, the one-machine default): it also takes due campaign attempts. One-off API
calls run in the background through `submit(prepared)`.
"""
from __future__ import annotations

import asyncio
import logging

from agent.dialing.place import Prepared
from agent.worker.runtime import Runtime

log = logging.getLogger("dialwise.worker")


class ServerWorker:
    def __init__(self, db_url: str, *, dials: bool, concurrency: int | None = None, dialers=None) -> None:
        self.runtime = Runtime(kind="server", db_url=db_url, concurrency=concurrency, take_attempts=dials,
                               dialers=dialers)

    @property
    def id(self) -> str | None:
        return self.runtime.id if self.runtime.started else None

    async def start(self) -> None:
        try:
            await self.runtime.start()
        except Exception:  # the API still serves; calls just carry no worker id
            log.exception("the server's worker could not start")

    def submit(self, prep: Prepared) -> asyncio.Task:
        """Run a call prepared through the gate in the background (an API one-off)."""
        return self.runtime.submit(prep)

    async def stop(self) -> None:
        await self.runtime.stop()

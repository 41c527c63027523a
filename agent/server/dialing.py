"""The server's call models: loaded at start (in a thread) so /health/ready turns true and the first
call's greeting is on time. One-off API calls run on the server's worker (`app.state.worker`)."""
from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger("dialwise.server.models")


class ModelReadiness:
    def __init__(self) -> None:
        self._ready = asyncio.Event()
        self.load_error: str | None = None
        self.load_seconds: float | None = None
        self._loader: asyncio.Task[None] | None = None

    @property
    def loading(self) -> bool:
        return self._loader is not None and not self._ready.is_set()

    def start_loading(self) -> None:
        """Load the models in a thread now (idempotent)."""
        if self._loader is None:
            self._loader = asyncio.get_running_loop().create_task(self._load(), name="load-models")

    async def _load(self) -> None:
        from agent.calls import get_deps

        t = time.perf_counter()
        try:
            await asyncio.to_thread(get_deps)  # loads and warms (agent/warm_up.py): ready means a call greets in time
        except Exception as exc:  # reported on /health/ready; calls then fail with this reason
            log.exception("loading the call models failed")
            self.load_error = f"{type(exc).__name__}: {exc}"
        self.load_seconds = round(time.perf_counter() - t, 2)
        log.info("call models %s in %.1f s", "failed" if self.load_error else "ready", self.load_seconds)
        self._ready.set()

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self.load_error is None


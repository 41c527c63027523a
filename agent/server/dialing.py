"""The server's own dialling: one-off calls placed through the API run here, in the server's event loop,
on the network they name; the models load once at start so the first greeting is not late."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from agent.dialing.base import Dialer
from agent.dialing.place import Prepared, run_prepared

log = logging.getLogger("dialwise.server.dialing")


class ServerDials:
    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.tasks: set[asyncio.Task[Any]] = set()
        self._dialers: dict[str, Dialer] = {}
        self._ready = asyncio.Event()
        self.load_error: str | None = None
        self.load_seconds: float | None = None
        self._loader: asyncio.Task[None] | None = None

    # --- models -------------------------------------------------------------------------------
    def start_loading(self) -> None:
        """Load the models in a thread now, so /health/ready turns true and calls start on time."""
        if self._loader is None:
            self._loader = asyncio.get_running_loop().create_task(self._load(), name="load-models")

    async def _load(self) -> None:
        from agent.calls import get_deps

        t = time.perf_counter()
        try:
            await asyncio.to_thread(get_deps)
        except Exception as exc:  # reported on /health/ready; calls then fail with this reason
            log.exception("loading the call models failed")
            self.load_error = f"{type(exc).__name__}: {exc}"
        self.load_seconds = round(time.perf_counter() - t, 2)
        self._ready.set()

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self.load_error is None

    async def wait_ready(self) -> None:
        self.start_loading()
        await self._ready.wait()
        if self.load_error:
            raise RuntimeError(f"the call models did not load: {self.load_error}")

    # --- calls --------------------------------------------------------------------------------
    async def dialer(self, network: str) -> Dialer:
        if network not in self._dialers:
            from agent.calls import get_deps
            from agent.dialing.registry import build_dialer

            await self.wait_ready()
            self._dialers[network] = build_dialer(network, get_deps(), db_url=self.db_url)
        return self._dialers[network]

    def submit(self, prep: Prepared) -> asyncio.Task[Any]:
        """Ring a prepared (gated) call in the background; the attempt closes however it ends."""
        async def run() -> None:
            try:
                dialer = await self.dialer(prep.network)
            except Exception as exc:
                from agent.dialing.place import close_attempt

                log.error("cannot dial %s on %s: %s", prep.call_id, prep.network, exc)
                await asyncio.to_thread(close_attempt, prep.attempt_id, "failed", detail=str(exc)[:200],
                                        db_url=self.db_url)
                return
            await run_prepared(prep, dialer, db_url=self.db_url)

        task = asyncio.get_running_loop().create_task(run(), name=f"dial-{prep.call_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def close(self, grace_s: float = 5.0) -> None:
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=grace_s)
        for task in list(self.tasks):
            task.cancel()
        for dialer in self._dialers.values():
            try:
                await dialer.close()
            except Exception:
                log.warning("closing a dialer failed", exc_info=True)

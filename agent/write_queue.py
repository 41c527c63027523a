"""One call's database writes, run in order on a worker thread while the call goes on.

A call must never wait for the database to speak, yet its rows must land in the order things
happened (a turn before the update of that turn). `OrderedWrites` runs each submitted function on a
thread, one after the other, and hands back a future for its result. A write that fails is logged
and surfaces on its future; a future nobody awaits has its failure marked as retrieved.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("dialwise.session")


class OrderedWrites:
    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"writer-{self.call_id}")

    def submit(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(_consume_exception)
        self._queue.put_nowait((fn, fut))
        return fut

    async def close(self) -> None:
        """Run what is queued, then stop."""
        await self._queue.put(None)
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            fn, fut = item
            try:
                result = await asyncio.to_thread(fn)
                if not fut.done():
                    fut.set_result(result)
            except Exception as exc:
                log.exception("call %s: database write failed", self.call_id)
                if not fut.done():
                    fut.set_exception(exc)


def _consume_exception(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()  # marks it retrieved; the writer has logged it

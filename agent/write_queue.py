"""One call's database writes, run in order on a worker thread while the call goes on.

A call must never wait for the database to speak, yet its rows must land in the order things
happened (a turn before the update of that turn). `OrderedWrites` runs each submitted function on a
thread, one after the other, and hands back a future for its result. A write that fails is logged
and surfaces on its future; a future nobody awaits has its failure marked as retrieved.

Cancelling the writer (a server shutting down cancels every task at once) never loses a write:
the write in flight finishes, what is queued still runs before the cancel goes on, and a write
submitted after that starts a fresh writer. So a cancelled call still lands its final record.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("dialwise.session")

_Item = tuple[Callable[[], Any], "asyncio.Future[Any]"]


class OrderedWrites:
    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"writer-{self.call_id}")

    def submit(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(_consume_exception)
        self._queue.put_nowait((fn, fut))
        if self._task is None or self._task.done():  # stopped (or cancelled): a new writer takes over
            self.start()
        return fut

    async def close(self) -> None:
        """Run what is queued, then stop."""
        self._closing = True
        self._queue.put_nowait(None)  # wakes the writer if it waits on an empty queue
        if self._task is not None and not self._task.done():
            await self._task

    async def _run(self) -> None:
        in_flight: asyncio.Future[Any] | None = None
        try:
            while True:
                if self._closing and self._queue.empty():
                    return  # closed, and everything submitted (even after close()) has run
                item = await self._queue.get()
                if item is None:
                    continue
                in_flight = self._apply(item)
                await asyncio.wait({in_flight})  # a cancel here leaves the thread's write running
                in_flight = None
        except asyncio.CancelledError:
            await self._drain(in_flight)
            raise

    def _apply(self, item: _Item) -> asyncio.Future[Any]:
        """Run one write on a thread; its result or failure settles the caller's future."""
        fn, fut = item
        # a plain executor future, not a task: cancelling every task (a shutdown) leaves it alone
        job = asyncio.get_running_loop().run_in_executor(None, contextvars.copy_context().run, fn)

        def settle(job: asyncio.Future[Any]) -> None:
            if fut.done():
                return
            if job.cancelled():
                fut.cancel()
            elif job.exception() is not None:
                log.error("call %s: database write failed", self.call_id, exc_info=job.exception())
                fut.set_exception(job.exception())
            else:
                fut.set_result(job.result())

        job.add_done_callback(settle)
        return job

    async def _drain(self, in_flight: asyncio.Future[Any] | None) -> None:
        """After a cancel: let the write on its thread finish, then run the queued ones."""
        try:
            if in_flight is not None:
                await asyncio.wait({in_flight})
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if item is not None:
                    await asyncio.wait({self._apply(item)})
        finally:  # cancelled again while draining: nobody is left waiting on a future forever
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if item is not None:
                    item[1].cancel()


def _consume_exception(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()  # marks it retrieved; the writer has logged it

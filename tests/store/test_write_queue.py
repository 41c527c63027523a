"""A call's ordered database writes: order kept, failures reported, nothing left behind on close."""
from __future__ import annotations

import asyncio
import gc
import threading
import time

import pytest

from agent.write_queue import OrderedWrites


def test_writes_run_in_order_off_the_event_loop_and_close_drains_them():
    done: list[int] = []
    loop_thread = threading.get_ident()

    def write(i: int):
        def fn():
            assert threading.get_ident() != loop_thread
            time.sleep(0.01 if i % 2 else 0)  # a slow write never lets a later one overtake it
            done.append(i)
            return i * 10
        return fn

    async def main():
        writes = OrderedWrites("c1")
        writes.start()
        futures = [writes.submit(write(i)) for i in range(6)]
        assert await futures[2] == 20 and done[:3] == [0, 1, 2]
        await writes.close()
        return [f.result() for f in futures]

    assert asyncio.run(main()) == [0, 10, 20, 30, 40, 50]
    assert done == list(range(6))


def test_a_failed_write_is_logged_and_surfaces_without_stopping_the_queue(caplog):
    def boom():
        raise RuntimeError("disk full")

    async def main():
        writes = OrderedWrites("c2")
        writes.start()
        awaited = writes.submit(boom)
        writes.submit(boom)  # nobody awaits this one
        after = writes.submit(lambda: "still running")
        with pytest.raises(RuntimeError, match="disk full"):
            await awaited
        assert await after == "still running"
        await writes.close()

    loop_errors: list[dict] = []

    def run():
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(lambda _loop, ctx: loop_errors.append(ctx))
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()
        gc.collect()

    run()
    assert [r.getMessage() for r in caplog.records].count("call c2: database write failed") == 2
    assert not loop_errors  # no "Future exception was never retrieved"


def test_a_cancelled_writer_still_lands_every_write_in_order():
    """A shutdown cancels every task at once: the write in flight, the queued ones and a later one all land."""
    done: list[int] = []

    def write(i: int):
        def fn():
            time.sleep(0.05)
            done.append(i)
            return i
        return fn

    async def main():
        writes = OrderedWrites("c3")
        writes.start()
        futures = [writes.submit(write(i)) for i in range(4)]
        await asyncio.sleep(0.02)  # the first write is on its thread
        writes._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writes._task
        assert done == [0, 1, 2, 3] and [f.result() for f in futures] == [0, 1, 2, 3]
        late = writes.submit(write(4))  # the final record of a cancelled call
        assert await asyncio.wait_for(late, 5) == 4
        await asyncio.wait_for(writes.close(), 5)

    asyncio.run(main())
    assert done == [0, 1, 2, 3, 4]


def test_a_write_submitted_while_closing_still_runs():
    async def main():
        writes = OrderedWrites("c4")
        writes.start()
        first = writes.submit(lambda: 1)
        closing = asyncio.ensure_future(writes.close())
        await asyncio.sleep(0)
        second = writes.submit(lambda: 2)
        await asyncio.wait_for(closing, 5)
        return await asyncio.wait_for(first, 5), await asyncio.wait_for(second, 5)

    assert asyncio.run(main()) == (1, 2)

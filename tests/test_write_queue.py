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

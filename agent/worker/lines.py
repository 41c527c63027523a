"""The calls one process runs: each admitted attempt through the gated dial path
(`agent.dialing.place.dial_attempt`) on its network's dialer, one dialer per network per process."""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from agent.dialing.base import Dialer
from agent.dialing.place import Prepared, close_attempt, dial_attempt, run_prepared
from agent.errors import UserError
from agent.worker.identity import WorkerIdentity

log = logging.getLogger("dialwise.worker")

DialerFactory = Callable[[str], Dialer]


def model_dialers(db_url: str | None = None) -> DialerFactory:
    """Dialers on this process's models (loaded once, at the first call of the factory)."""
    from agent.calls import get_deps
    from agent.dialing.registry import build_dialer

    return lambda network: build_dialer(network, get_deps(), db_url=db_url)


class Lines:
    def __init__(self, identity: WorkerIdentity, factory: DialerFactory, *, default_network: str,
                 db_url: str | None = None) -> None:
        self.identity = identity
        self.factory = factory
        self.default_network = default_network
        self.db_url = db_url
        self._dialers: dict[str, Dialer] = {}
        self._build = threading.Lock()
        self._tasks: set[asyncio.Task] = set()
        self.freed = asyncio.Event()  # set whenever a call ends (a queue may take the next one)

    @property
    def busy(self) -> int:
        return len(self._tasks)

    def dialer(self, network: str | None) -> Dialer:
        network = network or self.default_network
        with self._build:  # called from threads: models load once
            if network not in self._dialers:
                self._dialers[network] = self.factory(network)
            return self._dialers[network]

    async def run(self, attempt_id: str, network: str | None) -> None:
        """Dial one claimed attempt and wait until its call is over. Never raises for a bad attempt:
        the attempt is closed as failed instead (it stays counted by the gate if it was dialled)."""
        self.identity.calls_live += 1
        try:
            dialer = await asyncio.to_thread(self.dialer, network)
            await dial_attempt(attempt_id, dialer, worker_id=self.identity.id, db_url=self.db_url)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # settings missing for the network, a vanished row, a bad script
            if isinstance(exc, UserError):
                log.warning("attempt %s could not be dialled: %s", attempt_id, exc)
            else:
                log.exception("attempt %s could not be dialled", attempt_id)
            await asyncio.to_thread(close_attempt, attempt_id, "failed", detail=f"{type(exc).__name__}: {exc}",
                                    db_url=self.db_url)
        finally:
            self.identity.calls_live -= 1
            self.freed.set()

    def start(self, attempt_id: str, network: str | None) -> asyncio.Task:
        """Run a claimed attempt in the background (the embedded queue's way)."""
        return self._track(asyncio.create_task(self.run(attempt_id, network), name=f"attempt-{attempt_id}"))

    def submit(self, prep: Prepared) -> asyncio.Task:
        """Run a call already prepared through the gate (a one-off from the API) in the background."""

        async def one() -> None:
            self.identity.calls_live += 1
            try:
                dialer = await asyncio.to_thread(self.dialer, prep.network)
                await run_prepared(prep, dialer, db_url=self.db_url)
            finally:
                self.identity.calls_live -= 1
                self.freed.set()

        return self._track(asyncio.create_task(one(), name=f"call-{prep.call_id}"))

    def _track(self, task: asyncio.Task) -> asyncio.Task:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float) -> int:
        """Wait for the background calls to end, at most `timeout` s; returns how many are left."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        return len(self._tasks)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for dialer in self._dialers.values():
            try:
                await dialer.close()
            except Exception:  # closing a network must not stop the others from closing
                log.warning("closing the %s dialer failed", dialer.network, exc_info=True)

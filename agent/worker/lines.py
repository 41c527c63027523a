"""The calls one process runs: each admitted attempt through the gated dial path
(`agent.dialing.place.dial_attempt`) on its network's dialer, one dialer per network per process
(or one dialer lent by the caller for every attempt, which the lines then never close)."""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from agent.dialing.base import Dialer, DialOutcome
from agent.dialing.place import Blocked, Prepared, close_attempt, dial_attempt, run_prepared
from agent.errors import UserError
from agent.worker.identity import WorkerIdentity

log = logging.getLogger("dialwise.worker")

DialerFactory = Callable[[str], Dialer]


@dataclass(frozen=True)
class Dialled:
    """How one admitted attempt went: gated (`prep`: Prepared or Blocked) and rung (`outcome`), or
    `error` when it could not even be prepared (it was closed as failed)."""
    attempt_id: str
    prep: Prepared | Blocked | None = None
    outcome: DialOutcome | None = None
    error: str | None = None


DialledFn = Callable[[Dialled], None]


def model_dialers(db_url: str | None = None) -> DialerFactory:
    """Dialers on this process's models (loaded once, at the first call of the factory)."""
    from agent.calls import get_deps
    from agent.dialing.registry import build_dialer

    return lambda network: build_dialer(network, get_deps(), db_url=db_url)


class Lines:
    def __init__(self, identity: WorkerIdentity, factory: DialerFactory, *, default_network: str,
                 db_url: str | None = None, lent: Dialer | None = None, simulated_clock: bool = False,
                 on_dialled: DialledFn | None = None) -> None:
        """`lent`: one dialer for every attempt, owned by the caller; `simulated_clock`: dial each attempt
        at its own slot (`dial_attempt`); `on_dialled`: told of each attempt once it is over."""
        self.identity = identity
        self.factory = factory
        self.default_network = default_network
        self.db_url = db_url
        self.lent = lent
        self.simulated_clock = simulated_clock
        self.on_dialled = on_dialled
        self._dialers: dict[str, Dialer] = {}
        self._build = threading.Lock()
        self._tasks: set[asyncio.Task] = set()
        self.freed = asyncio.Event()  # set whenever a call ends (a queue may take the next one)

    @property
    def busy(self) -> int:
        return len(self._tasks)

    def dialer(self, network: str | None) -> Dialer:
        if self.lent is not None:
            return self.lent
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
            prep, outcome = await dial_attempt(attempt_id, dialer, simulated_clock=self.simulated_clock,
                                               worker_id=self.identity.id, db_url=self.db_url)
            done = Dialled(attempt_id, prep, outcome)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # settings missing for the network, a vanished row, a bad script
            if isinstance(exc, UserError):
                log.warning("attempt %s could not be dialled: %s", attempt_id, exc)
            else:
                log.exception("attempt %s could not be dialled", attempt_id)
            done = Dialled(attempt_id, error=f"{type(exc).__name__}: {exc}")
            await asyncio.to_thread(close_attempt, attempt_id, "failed", detail=done.error, db_url=self.db_url)
        finally:
            self.identity.calls_live -= 1
            self._line_freed()
        if self.on_dialled is not None:
            try:
                self.on_dialled(done)
            except Exception:  # a report or progress display must not take the line down
                log.exception("reporting attempt %s failed", attempt_id)

    def _line_freed(self) -> None:
        """This call's line is free: not busy any more, and a queue waiting for a line hears of it."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.discard(task)
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
                self._line_freed()

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
        for dialer in self._dialers.values():  # a lent dialer is never among them: its owner closes it
            try:
                await dialer.close()
            except Exception:  # closing a network must not stop the others from closing
                log.warning("closing the %s dialer failed", dialer.network, exc_info=True)

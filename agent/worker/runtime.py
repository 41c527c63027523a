"""One call-running process: identity and heartbeat, the lost-worker sweep, the queue, the lines.

`dialwise worker` runs `run_until_signal(Runtime(...))`; `dialwise serve` embeds a Runtime in its
lifespan (`agent.worker.embed`); `dialwise demo` and `dialwise campaigns run` run one with a `Batch`
(`agent.runner.run_attempts`) until their campaign has nothing due. All start the same way:

1. register this process in `workers`, and sweep at once (a restarted process cleans up after the
   one it replaces);
2. heartbeat every WORKER_HEARTBEAT_S, sweeping lost workers each time;
3. every PROMISE_SWEEP_S, mark promises whose grace days have passed unpaid as broken (the daily sweep,
   so nobody runs `dialwise promises sweep` by hand; idempotent, and each promise breaks once however
   many workers sweep);
4. take due attempts from the queue — procrastinate on PostgreSQL, the embedded poller on SQLite and
   for every batch.

A process with the sip network enabled (DIAL_NETWORK=sip or SIP_TRUNK_URI set) runs at most
PJSUA_MAX_CALLS (4) lines, what the pjsua2 wheel holds per process, and sets CPython's GIL switch interval
(GIL_SWITCH_INTERVAL_MS, 1 ms there by default) before it takes calls.

Stopping (SIGTERM): the queue takes nothing new, the calls in progress finish (bounded by
MAX_CALL_S), whatever is still open then ends as interrupted, and the row is marked stopped.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

from agent.config import Settings, get_settings
from agent.dialing.base import Dialer
from agent.dialing.place import Prepared
from agent.worker.embedded import Batch, EmbeddedQueue
from agent.worker.identity import WorkerIdentity
from agent.worker.lines import DialerFactory, DialledFn, Lines, model_dialers
from agent.worker.pg_queue import PgQueue
from agent.worker.sweep import release_work, sweep_lost

log = logging.getLogger("dialwise.worker")


def is_postgres(db_url: str) -> bool:
    return db_url.startswith("postgresql")


def line_count(settings: Settings, requested: int) -> int:
    """The lines this process runs: `requested`, at most PJSUA_MAX_CALLS when it may run SIP calls."""
    if not settings.sip_enabled:
        return requested
    from agent.dialing.sip import PJSUA_MAX_CALLS

    if requested <= PJSUA_MAX_CALLS:
        return requested
    log.warning("%d lines asked, %d run: the sip network is enabled and a process holds at most %d SIP calls "
                "(PJSUA_MAX_CALLS of the pjsua2 wheel); run more `dialwise worker` processes for more calls "
                "(telephony_adapter/README.md)", requested, PJSUA_MAX_CALLS, PJSUA_MAX_CALLS)
    return PJSUA_MAX_CALLS


def apply_switch_interval(settings: Settings) -> float | None:
    """Set CPython's GIL switch interval for this call-running process (GIL_SWITCH_INTERVAL_MS; 1 ms when
    the sip network is enabled). Returns the interval set, in seconds, or None (Python's own kept)."""
    interval = settings.switch_interval_s()
    if interval is None:
        return None
    sys.setswitchinterval(interval)
    why = "GIL_SWITCH_INTERVAL_MS" if settings.gil_switch_interval_ms is not None else "the sip network is enabled"
    log.info("GIL switch interval %.1f ms (%s)", interval * 1000, why)
    return interval


class Runtime:
    def __init__(self, *, kind: str = "worker", db_url: str | None = None, concurrency: int | None = None,
                 take_attempts: bool = True, dialers: DialerFactory | None = None,
                 default_network: str | None = None, settings: Settings | None = None,
                 dialer: Dialer | None = None, batch: Batch | None = None,
                 on_dialled: DialledFn | None = None) -> None:
        """`dialer`: one network for every attempt, lent by the caller (who closes it); `batch`: take that
        campaign's due attempts, then finish (`finished`); `on_dialled`: told of each attempt as it ends."""
        self.settings = settings or get_settings()
        self.db_url = db_url or self.settings.resolved_database_url()
        self.concurrency = line_count(self.settings, concurrency or self.settings.max_concurrent_calls)
        self.take_attempts = take_attempts
        self.batch = batch
        self.identity = WorkerIdentity(kind, self.db_url)
        self.lines = Lines(self.identity, dialers or model_dialers(self.db_url),
                           default_network=dialer.network if dialer else default_network or self.settings.dial_network,
                           db_url=self.db_url, lent=dialer, simulated_clock=bool(batch and batch.simulated_clock),
                           on_dialled=on_dialled)
        self.queue: EmbeddedQueue | PgQueue | None = None
        self._tasks: list[asyncio.Task] = []
        self.started = False

    @property
    def id(self) -> str:
        return self.identity.id

    @property
    def queue_kind(self) -> str:
        if not self.take_attempts:
            return "none"
        return "procrastinate" if is_postgres(self.db_url) and self.batch is None else "embedded"

    async def start(self) -> None:
        apply_switch_interval(self.settings)
        await asyncio.to_thread(self.identity.register)
        self.started = True
        await asyncio.to_thread(self._sweep)
        self._tasks.append(asyncio.create_task(self._beat_loop(), name="heartbeat"))
        self._tasks.append(asyncio.create_task(self._promise_loop(), name="promise-sweep"))
        if self.take_attempts:
            if self.queue_kind == "procrastinate":
                s = self.settings
                self.queue = PgQueue(self.lines, self.concurrency, db_url=self.db_url,
                                     heartbeat_s=s.worker_heartbeat_s, lost_s=s.worker_lost_s, max_call_s=s.max_call_s)
            else:
                self.queue = EmbeddedQueue(self.lines, self.concurrency, db_url=self.db_url, batch=self.batch)
            self._queue_task = asyncio.create_task(self.queue.run(), name="queue")
        log.info("worker %s ready: %s queue, %d lines, default network %s", self.id, self.queue_kind,
                 self.concurrency, self.lines.default_network)

    async def finished(self) -> None:
        """Until the queue stops by itself: a batch, once its campaign has nothing due and no call runs."""
        if self.queue is not None:
            await asyncio.shield(self._queue_task)

    def submit(self, prep: Prepared) -> asyncio.Task:
        """Run a call prepared through the gate (`agent.dialing.place.start_call`) in the background."""
        return self.lines.submit(prep)

    def _sweep(self) -> None:
        sweep_lost(self.settings.worker_lost_s, me=self.id, db_url=self.db_url)

    async def _beat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.worker_heartbeat_s)
            try:
                await asyncio.to_thread(self.identity.beat)
                await asyncio.to_thread(self._sweep)
            except Exception:  # the database is away for a moment; our own calls go on
                log.warning("heartbeat failed", exc_info=True)

    def sweep_promises(self) -> int:
        """One pass of the broken-promise sweep; returns how many promises changed."""
        from agent.lifecycle.promises import sweep
        from agent.store import session_scope

        with session_scope(self.db_url) as s:
            return len(sweep(s))

    async def _promise_loop(self) -> None:
        while True:  # first pass one period after start: a restart loop does not sweep on every start
            await asyncio.sleep(self.settings.promise_sweep_s)
            try:
                changed = await asyncio.to_thread(self.sweep_promises)
                if changed:
                    log.info("promise sweep: %d promises closed", changed)
            except Exception:  # the database is away for a moment: the next pass catches up
                log.warning("the promise sweep failed", exc_info=True)

    async def stop(self, grace: float | None = None) -> None:
        """Dial nothing new, let the calls in progress finish (at most `grace`, default MAX_CALL_S),
        end what is left as interrupted, and mark this worker stopped."""
        if not self.started:
            return
        grace = self.settings.max_call_s if grace is None else grace
        if self.queue is not None:
            self.queue.stop()
            try:
                await asyncio.wait_for(asyncio.shield(self._queue_task), timeout=grace + 10)
            except Exception:
                log.warning("the queue did not stop in time", exc_info=True)
        left = await self.lines.drain(grace)
        if left:
            log.warning("%d calls still running after %.0f s: ending them as interrupted", left, grace)
        await self.lines.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(release_work, self.id, reason="interrupted: worker stopped", db_url=self.db_url)
        await asyncio.to_thread(self.identity.stop)
        self.started = False


async def run_until_signal(rt: Runtime, *, on_ready=None) -> None:
    """Run `rt` until SIGTERM or SIGINT, then stop it gracefully."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=rt.concurrency * 3 + 8, thread_name_prefix="db"))
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await rt.start()
    if on_ready:
        on_ready(rt)
    await stopping.wait()
    log.info("worker %s stopping: no new dials; waiting for %d calls in progress", rt.id, rt.identity.calls_live)
    await rt.stop()

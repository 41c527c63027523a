"""The queue on PostgreSQL: procrastinate, one job per due attempt.

How due attempts become jobs: a feeder, run by every worker every FEED_S (and whenever a line frees),
turns due attempts of running campaigns into jobs *just in time*, at most the campaign's free
capacity (`max_concurrent` minus the attempts in flight minus those already queued). Each job carries
`queueing_lock` = attempt id (enqueued once), `lock` = account id (one debtor never has two calls at
once) and `scheduled_at` = not_before. It is inserted in the same transaction that counted the
capacity, under a lock on the campaign row (feeders on other workers skip a locked campaign).

Why a feeder, not jobs made where attempts are created: attempts are created in many places (the
planner, retries and call-backs in `close_attempt`, the API), often hours ahead; a queue filled with
them would have to be purged on every pause and would hold stale jobs. Made just in time, pause,
start and `max_concurrent` act in the database within one feed period, and the queue stays small.

The job itself asks `agent.worker.admit` again (campaign running, capacity, debtor free) and claims
the attempt conditionally before dialling, so a stale or duplicate job can never dial twice.
Stalled jobs (their worker's procrastinate heartbeat stopped) are retried: the retried job finds its
attempt closed by the lost-worker sweep (no dial) or still planned (dialled once).
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from agent.store import session_scope
from agent.store.models import Attempt, Campaign
from agent.timeutil import aware
from agent.worker.admit import IN_FLIGHT, admit
from agent.worker.lines import Lines

log = logging.getLogger("dialwise.worker")

TASK = "dialwise.dial_attempt"
QUEUE = "dials"
FEED_S = 0.5
LOOKAHEAD = timedelta(seconds=1)  # attempts due this soon are queued with scheduled_at = not_before

_QUEUED = """SELECT count(*) FROM procrastinate_jobs j JOIN attempts a ON a.id = j.queueing_lock
             WHERE a.campaign_id = :c AND a.status = 'planned' AND j.status IN ('todo', 'doing')"""
_DUE = """SELECT a.id, a.account_id, a.not_before FROM attempts a
          WHERE a.campaign_id = :c AND a.status = 'planned' AND a.not_before <= :horizon
            AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                            WHERE j.queueing_lock = a.id AND j.status IN ('todo', 'doing'))
          ORDER BY a.not_before, a.id LIMIT :n"""


def conninfo(db_url: str) -> str:
    """The libpq URI of a SQLAlchemy PostgreSQL URL."""
    scheme, rest = db_url.split("://", 1)
    if not scheme.startswith("postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {scheme}://…")
    return f"postgresql://{rest}"


def ensure_schema(db_url: str) -> bool:
    """Apply procrastinate's schema when its tables are missing (one applier at a time). Returns
    whether it applied it."""
    import psycopg
    from procrastinate.schema import SchemaManager

    with psycopg.connect(conninfo(db_url), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(724913)")
        try:
            if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0] is not None:
                return False
            conn.execute(SchemaManager.get_schema())
            log.info("applied the procrastinate schema")
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(724913)")


def make_app(db_url: str, *, pool_size: int = 4):
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=conninfo(db_url), min_size=1, max_size=pool_size))

    @app.task(name=TASK, queue=QUEUE, pass_context=True)
    async def dial_attempt_job(context, attempt_id: str) -> str:
        return await context.additional_context["queue"].take(attempt_id)

    return app


def feed(db_url: str, *, now: datetime | None = None) -> int:
    """Queue due attempts of running campaigns up to each campaign's free capacity. Returns how many."""
    from procrastinate.jobs import Job
    from procrastinate.manager import JobManager
    from procrastinate.sync_psycopg_connector import SyncPsycopgConnector

    now = now or datetime.now(UTC)
    jobs: list[Job] = []
    with session_scope(db_url) as s:
        camps = s.execute(select(Campaign.id, Campaign.max_concurrent).where(Campaign.status == "running")
                          .order_by(Campaign.id).with_for_update(skip_locked=True)).all()
        for camp_id, max_concurrent in camps:
            in_flight = s.scalar(select(func.count()).select_from(Attempt).where(
                Attempt.campaign_id == camp_id, Attempt.status.in_(IN_FLIGHT))) or 0
            queued = s.scalar(text(_QUEUED), {"c": camp_id}) or 0
            free = max_concurrent - in_flight - queued
            if free <= 0:
                continue
            for attempt_id, account_id, not_before in s.execute(
                    text(_DUE), {"c": camp_id, "horizon": now + LOOKAHEAD, "n": free}):
                jobs.append(Job(id=None, queue=QUEUE, lock=f"account:{account_id}", queueing_lock=attempt_id,
                                task_name=TASK, task_kwargs={"attempt_id": attempt_id}, scheduled_at=aware(not_before)))
        if jobs:  # in this transaction: the capacity counted above holds until commit
            raw = s.connection().connection.driver_connection
            JobManager(SyncPsycopgConnector()).batch_defer_jobs(jobs, connection=raw)
    return len(jobs)


class PgQueue:
    kind = "procrastinate"

    def __init__(self, lines: Lines, concurrency: int, *, db_url: str, heartbeat_s: float, lost_s: float,
                 max_call_s: float, feed_s: float = FEED_S) -> None:
        self.lines = lines
        self.concurrency = concurrency
        self.db_url = db_url
        self.heartbeat_s = heartbeat_s
        self.lost_s = lost_s
        self.max_call_s = max_call_s
        self.feed_s = feed_s
        self._stop = asyncio.Event()
        self.dialled = 0

    def stop(self) -> None:
        """Take nothing new; the calls in progress go on (bounded by MAX_CALL_S)."""
        self._stop.set()

    async def take(self, attempt_id: str) -> str:
        """The job: admit the attempt, then dial it and wait for the call to end."""
        if self._stop.is_set():
            return "stopping"  # fetched just as we stop: it stays planned; the feeder queues it again
        adm = await asyncio.to_thread(admit, attempt_id, self.lines.identity.id, db_url=self.db_url)
        if adm.ok:
            self.dialled += 1
            await self.lines.run(attempt_id, adm.network)
        return adm.verdict

    async def run(self) -> None:
        await asyncio.to_thread(ensure_schema, self.db_url)
        app = make_app(self.db_url, pool_size=self.concurrency + 4)
        async with app.open_async():
            feeder = asyncio.create_task(self._feed_loop(app), name="feeder")
            worker = asyncio.create_task(app.run_worker_async(
                queues=[QUEUE], name=self.lines.identity.id, concurrency=self.concurrency, wait=True,
                listen_notify=True, fetch_job_polling_interval=min(self.feed_s, 1.0), delete_jobs="successful",
                additional_context={"queue": self}, install_signal_handlers=False,
                update_heartbeat_interval=self.heartbeat_s, stalled_worker_timeout=self.lost_s,
                shutdown_graceful_timeout=self.max_call_s + 5), name="procrastinate")
            stop = asyncio.create_task(self._stop.wait())
            await asyncio.wait({stop, worker}, return_when=asyncio.FIRST_COMPLETED)
            feeder.cancel()
            if not worker.done():
                worker.cancel()  # procrastinate stops fetching and waits for the running jobs
            for task in (feeder, worker, stop):
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                except Exception:
                    log.exception("the queue stopped on an error")

    async def _feed_loop(self, app) -> None:
        last_stalled = 0.0
        while True:
            self.lines.freed.clear()
            try:
                await asyncio.to_thread(feed, self.db_url)
                if time.monotonic() - last_stalled > self.heartbeat_s:
                    last_stalled = time.monotonic()
                    await self._retry_stalled(app)
            except Exception:  # the database went away for a moment: try again next period
                log.warning("feeding the queue failed", exc_info=True)
            try:
                await asyncio.wait_for(self.lines.freed.wait(), timeout=self.feed_s)
            except TimeoutError:
                pass

    async def _retry_stalled(self, app) -> None:
        for job in await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=self.lost_s):
            log.warning("retrying stalled job %s (%s)", job.id, job.task_kwargs)
            await app.job_manager.retry_job(job)

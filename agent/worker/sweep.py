"""The lost-worker sweep: every live worker and server runs it at start and then periodically.

A worker on another host is lost when its heartbeat is older than WORKER_LOST_S. On this host the
process table decides: a worker whose process is gone is lost at once (a restarted server cleans up
after its previous pid without waiting); one whose process is alive is only slow, e.g. its heartbeat
waits on SQLite's write lock behind other workers, until it has been silent 4 x WORKER_LOST_S. Its
work ends the way a crash demands:

- its calls still `created` or `live` end as `interrupted` (every stored turn is kept, and the
  call.completed event is written in the same transaction, so CRMs hear of it);
- its `dialing` attempts are closed as failed ("interrupted: worker lost"). They are never dialled
  again blind: `dialed_at` is set, so the gate counts the first dial when a new attempt comes;
- its `claimed` attempts, not dialled yet, go back to `planned` for any worker to take.

Every step is a conditional update, so two sweepers at once, or a sweeper racing a worker that was
only slow, change each row once.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, update

from agent.store import session_scope
from agent.store.models import Attempt, Call, OutboxEvent, Outcome, Worker
from agent.timeutil import aware
from agent.worker.identity import host_name, pid_alive

log = logging.getLogger("dialwise.worker.sweep")

LOST_DETAIL = "interrupted: worker lost"
OPEN_CALL = ("created", "live")
HUNG_FACTOR = 4  # a live process on this host is lost only after 4 x WORKER_LOST_S of silence


@dataclass
class SweepReport:
    workers: list[str] = field(default_factory=list)
    calls_interrupted: list[str] = field(default_factory=list)
    attempts_closed: list[str] = field(default_factory=list)
    attempts_released: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.workers or self.calls_interrupted or self.attempts_closed or self.attempts_released)


def lost_workers(lost_s: float, *, me: str | None = None, now: datetime | None = None,
                 db_url: str | None = None) -> list[str]:
    """Ids of workers to sweep: silent too long, gone from this host, or stopped with work left open."""
    now = now or datetime.now(UTC)
    host, found = host_name(), set()
    with session_scope(db_url) as s:
        for w in s.scalars(select(Worker).where(Worker.stopped_at.is_(None))):
            if w.id == me:
                continue
            quiet_s = (now - aware(w.heartbeat_at)).total_seconds()
            if w.host == host:
                # On this host the process table is the truth: gone means lost at once, alive means only
                # slow (e.g. a heartbeat waiting on SQLite's write lock behind other workers) until it has
                # been silent for HUNG_FACTOR times the limit.
                lost = not pid_alive(w.pid) or quiet_s > lost_s * HUNG_FACTOR
            else:
                lost = quiet_s > lost_s
            if lost:
                found.add(w.id)
        stopped = select(Worker.id).where(Worker.stopped_at.is_not(None))
        found.update(s.scalars(select(Call.worker_id).where(Call.status.in_(OPEN_CALL),
                                                            Call.worker_id.in_(stopped)).distinct()))
        found.update(s.scalars(select(Attempt.claimed_by).where(Attempt.status.in_(("claimed", "dialing")),
                                                                Attempt.claimed_by.in_(stopped)).distinct()))
    found.discard(me)
    return sorted(found)


def interrupt_call(call_id: str, reason: str = LOST_DETAIL, *, db_url: str | None = None) -> bool:
    """End an open call as interrupted, with its outcome row and call.completed event, in one
    transaction. Returns False when the call had already ended (someone else closed it)."""
    now = datetime.now(UTC)
    with session_scope(db_url) as s:
        res = s.execute(update(Call).where(Call.id == call_id, Call.status.in_(OPEN_CALL))
                        .values(status="ended", ended_at=now, outcome="interrupted", end_reason="interrupted",
                                error=reason))
        if res.rowcount != 1:
            return False
        call = s.get(Call, call_id)
        slots = dict(call.slots or {})
        s.add(Outcome(call_id=call.id, account_id=call.account_id, kind="interrupted", details={"reason": reason}))
        s.add(OutboxEvent(type="call.completed", payload={
            "call_id": call.id, "account_id": call.account_id, "script_id": call.script_id,
            "campaign_id": call.campaign_id, "outcome": "interrupted", "slots": slots,
            "end_reason": "interrupted", "transcript_url": f"/api/calls/{call.id}"}))
    log.warning("call %s ended as interrupted (%s)", call_id, reason)
    return True


def release_work(worker_id: str, *, reason: str = LOST_DETAIL, db_url: str | None = None,
                 report: SweepReport | None = None) -> SweepReport:
    """End everything `worker_id` left open (see the module doc). Idempotent."""
    from agent.dialing.place import close_attempt

    report = SweepReport() if report is None else report
    with session_scope(db_url) as s:
        calls = list(s.scalars(select(Call.id).where(Call.worker_id == worker_id, Call.status.in_(OPEN_CALL))))
        dialing = list(s.scalars(select(Attempt.id).where(Attempt.claimed_by == worker_id,
                                                          Attempt.status == "dialing")))
    for call_id in calls:  # the calls first: a closed attempt must not finish them as "no answer"
        if interrupt_call(call_id, reason, db_url=db_url):
            report.calls_interrupted.append(call_id)
    for attempt_id in dialing:
        if close_attempt(attempt_id, "failed", detail=reason, db_url=db_url):
            report.attempts_closed.append(attempt_id)
    with session_scope(db_url) as s:
        claimed = list(s.scalars(select(Attempt.id).where(Attempt.claimed_by == worker_id,
                                                          Attempt.status == "claimed")))
        for attempt_id in claimed:
            res = s.execute(update(Attempt).where(Attempt.id == attempt_id, Attempt.status == "claimed",
                                                  Attempt.claimed_by == worker_id)
                            .values(status="planned", claimed_by=None, claimed_at=None))
            if res.rowcount == 1:
                report.attempts_released.append(attempt_id)
    return report


def sweep_lost(lost_s: float, *, me: str | None = None, now: datetime | None = None,
               db_url: str | None = None) -> SweepReport:
    """Find lost workers and end their work; marks them stopped once their work is closed."""
    report = SweepReport()
    for worker_id in lost_workers(lost_s, me=me, now=now, db_url=db_url):
        release_work(worker_id, db_url=db_url, report=report)
        with session_scope(db_url) as s:
            s.execute(update(Worker).where(Worker.id == worker_id, Worker.stopped_at.is_(None))
                      .values(stopped_at=datetime.now(UTC), calls_live=0))
        report.workers.append(worker_id)
    if report:
        log.warning("swept lost workers %s: %d calls interrupted, %d attempts closed, %d released",
                    report.workers, len(report.calls_interrupted), len(report.attempts_closed),
                    len(report.attempts_released))
    return report

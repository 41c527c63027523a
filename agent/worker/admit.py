"""The database's say on one due attempt, then the claim — the same for every queue.

`admit` runs in one short transaction, under a lock on the campaign row (PostgreSQL: FOR UPDATE;
SQLite: a no-op write, which takes the database's single write lock), so every worker on every
machine sees the same answer:

- the campaign must be `running` (paused: the attempt stays `planned`; a start brings it back);
- fewer than `max_concurrent` of the campaign's attempts may be in flight (`claimed` or `dialing`),
  counted across all workers;
- the debtor may not be in another call (another attempt of the account in flight);
- then planned → claimed, conditionally: a row someone else claimed is simply not ours.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from agent.store import session_scope
from agent.store.models import Account, Attempt, Campaign
from agent.timeutil import aware

IN_FLIGHT = ("claimed", "dialing")
EARLY_SLACK = timedelta(seconds=1)  # a job may start this much before its attempt's time


@dataclass(frozen=True)
class Admission:
    verdict: str  # ok | gone | paused | full | busy | early
    network: str | None = None  # the campaign's network (None: the worker's default)

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


def _lock_row(s, model, key):
    """PostgreSQL: FOR NO KEY UPDATE, which admissions take in turn but which lets the dial path's inserts
    that refer to the row (its call, with their foreign-key share lock) through: under FOR UPDATE an
    admission holding the campaign and waiting for the debtor deadlocked with that debtor's dial holding
    the debtor and creating its call."""
    if s.get_bind().dialect.name == "postgresql":
        return s.scalar(select(model).where(model.id == key).with_for_update(key_share=True))
    s.execute(update(model).where(model.id == key).values(id=model.id))  # SQLite: take the write lock
    return s.get(model, key)


def admit(attempt_id: str, worker_id: str, *, now: datetime | None = None, db_url: str | None = None) -> Admission:
    """Decide whether `worker_id` may dial `attempt_id` now; on yes it is claimed by `worker_id`."""
    now = now or datetime.now(UTC)
    with session_scope(db_url) as s:
        attempt = s.get(Attempt, attempt_id)
        if attempt is None or attempt.status != "planned":
            return Admission("gone")
        network = None
        if attempt.campaign_id:
            camp = _lock_row(s, Campaign, attempt.campaign_id)
            if camp is None or camp.status != "running":
                return Admission("paused")
            in_flight = s.scalar(select(func.count()).select_from(Attempt).where(
                Attempt.campaign_id == camp.id, Attempt.status.in_(IN_FLIGHT))) or 0
            if in_flight >= camp.max_concurrent:
                return Admission("full")
            network = camp.network
        _lock_row(s, Account, attempt.account_id)
        s.refresh(attempt)
        if attempt.status != "planned":
            return Admission("gone")
        if aware(attempt.not_before) > now + EARLY_SLACK:
            return Admission("early")
        other = s.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.account_id == attempt.account_id, Attempt.status.in_(IN_FLIGHT), Attempt.id != attempt_id))
        if other:
            return Admission("busy")
        res = s.execute(update(Attempt).where(Attempt.id == attempt_id, Attempt.status == "planned")
                        .values(status="claimed", claimed_by=worker_id, claimed_at=now))
        return Admission("ok", network) if res.rowcount == 1 else Admission("gone")


def due_attempts(limit: int, *, now: datetime | None = None, campaign_id: str | None = None,
                 created_by: datetime | None = None, db_url: str | None = None) -> list[str]:
    """Planned attempts whose time has come, of running campaigns (or of none), oldest first;
    `campaign_id`: of that campaign only; `created_by`: only those that existed then."""
    now = now or datetime.now(UTC)
    running = select(Campaign.id).where(Campaign.status == "running")
    query = (select(Attempt.id).where(Attempt.status == "planned", Attempt.not_before <= now)
             .where(Attempt.campaign_id.is_(None) | Attempt.campaign_id.in_(running))
             .order_by(Attempt.not_before, Attempt.id).limit(limit))
    if campaign_id:
        query = query.where(Attempt.campaign_id == campaign_id)
    if created_by is not None:
        query = query.where(Attempt.created_at <= created_by)
    with session_scope(db_url) as s:
        return list(s.scalars(query))

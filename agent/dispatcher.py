"""Claiming due attempts in the database, so any number of runner processes can share the work.

PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED inside a short transaction. SQLite (one machine):
a conditional UPDATE per row, which SQLite serialises; a row claimed by another process is
simply skipped. No in-memory queue is ever the truth.
"""
from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

from sqlalchemy import select, update

from agent.store import session_scope
from agent.store.models import Attempt, Campaign


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_due(limit: int, *, now: datetime | None = None, campaign_id: str | None = None,
              worker: str | None = None, db_url: str | None = None) -> list[str]:
    """Claim up to `limit` planned attempts whose time has come; returns their ids."""
    now = now or datetime.now(UTC)
    worker = worker or worker_id()
    with session_scope(db_url) as s:
        # a paused (or finished) campaign's attempts wait; attempts outside any campaign always run
        running = select(Campaign.id).where(Campaign.status == "running")
        query = (select(Attempt.id).where(Attempt.status == "planned", Attempt.not_before <= now)
                 .where(Attempt.campaign_id.is_(None) | Attempt.campaign_id.in_(running))
                 .order_by(Attempt.not_before, Attempt.id).limit(limit))
        if campaign_id:
            query = query.where(Attempt.campaign_id == campaign_id)
        dialect = s.get_bind().dialect.name
        if dialect == "postgresql":
            ids = list(s.scalars(query.with_for_update(skip_locked=True)))
            if ids:
                s.execute(update(Attempt).where(Attempt.id.in_(ids))
                          .values(status="claimed", claimed_by=worker, claimed_at=now))
            return ids
        claimed = []
        for attempt_id in list(s.scalars(query)):
            res = s.execute(update(Attempt).where(Attempt.id == attempt_id, Attempt.status == "planned")
                            .values(status="claimed", claimed_by=worker, claimed_at=now))
            if res.rowcount == 1:
                claimed.append(attempt_id)
        return claimed


def finish_attempt(attempt_id: str, status: str, result: str | None = None, *, rule: str | None = None,
                   db_url: str | None = None) -> None:
    with session_scope(db_url) as s:
        attempt = s.get(Attempt, attempt_id)
        attempt.status = status
        attempt.result = result
        attempt.blocked_rule = rule
        if status in ("dialing", "done") and attempt.dialed_at is None:
            attempt.dialed_at = datetime.now(UTC)
        if status not in ("planned", "claimed", "dialing") and attempt.finished_at is None:
            attempt.finished_at = datetime.now(UTC)

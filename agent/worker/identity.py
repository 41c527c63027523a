"""Who is running calls: one `workers` row per process, with a heartbeat.

The process that runs a call session owns the call (`calls.worker_id`) and the attempt it dialled
(`attempts.claimed_by`). Other processes read the heartbeat to tell whether that work is still going
on (see `agent.worker.sweep`).
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import UTC, datetime

from sqlalchemy import update

from agent.store import session_scope
from agent.store.models import Worker

log = logging.getLogger("dialwise.worker")

_current: WorkerIdentity | None = None


def current_worker_id() -> str | None:
    """The id of this process's registered worker, if it registered one (calls it runs carry it)."""
    return _current.id if _current is not None and not _current.stopped else None


def host_name() -> str:
    return socket.gethostname()[:64]


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine (a zombie counts as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


class WorkerIdentity:
    """This process as a row in `workers`. `register` → `beat` (every WORKER_HEARTBEAT_S) → `stop`."""

    def __init__(self, kind: str, db_url: str | None = None) -> None:
        self.kind = kind
        self.db_url = db_url
        self.host = host_name()
        self.pid = os.getpid()
        self.id = f"{self.host}:{self.pid}:{secrets.token_hex(3)}"
        self.calls_live = 0
        self.stopped = False

    def register(self, *, make_current: bool = True) -> WorkerIdentity:
        global _current
        now = datetime.now(UTC)
        with session_scope(self.db_url) as s:
            s.add(Worker(id=self.id, host=self.host, pid=self.pid, kind=self.kind, started_at=now,
                         heartbeat_at=now, calls_live=0))
        if make_current:
            _current = self
        log.info("worker %s registered (%s)", self.id, self.kind)
        return self

    def beat(self) -> None:
        with session_scope(self.db_url) as s:
            s.execute(update(Worker).where(Worker.id == self.id)
                      .values(heartbeat_at=datetime.now(UTC), calls_live=self.calls_live))

    def stop(self) -> None:
        global _current
        self.stopped = True
        if _current is self:
            _current = None
        with session_scope(self.db_url) as s:
            s.execute(update(Worker).where(Worker.id == self.id)
                      .values(stopped_at=datetime.now(UTC), calls_live=0))
        log.info("worker %s stopped", self.id)

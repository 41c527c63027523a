"""Helpers for the worker tests (prefix test_worker_): a PostgreSQL schema with procrastinate's tables,
accounts in a timezone where calling is allowed right now, and worker subprocesses."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.worker.bench import (
    drop_scratch_schema,
    open_timezone,
    scratch_schema,
    spawn_hold_worker,
)
from agent.worker.bench import wait_ready as bench_wait_ready

ROOT = Path(__file__).resolve().parent.parent
PG_BASE = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
SCRIPT = "collections_m1_en_a"


def pg_reachable() -> bool:
    import sqlalchemy as sa

    try:
        eng = sa.create_engine(PG_BASE)
        eng.connect().close()
        eng.dispose()
        return True
    except Exception:
        return False


def make_pg_schema() -> str:
    """A fresh schema with our tables and procrastinate's; skips when PostgreSQL is not reachable."""
    if os.environ.get("CI") and not os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        pytest.skip("runs in CI's PostgreSQL pass (tools/test.sh), not twice")
    if not pg_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_BASE}, and CI must test on it")
        pytest.skip(f"PostgreSQL is not reachable at {PG_BASE} (procrastinate needs it)")
    return scratch_schema(PG_BASE, "w")


def drop_pg_schema(url: str) -> None:
    drop_scratch_schema(url)


def seed_campaign(url: str, n: int, *, accounts: int | None = None, max_concurrent: int = 100,
                  status: str = "running", jurisdiction: str = "CN", due_in_s: float = -1.0) -> tuple[str, list[str]]:
    """A campaign with `n` planned attempts over `accounts` accounts (default one each), all due."""
    from agent.store import session_scope
    from agent.store.models import Account, Attempt, Campaign

    tz = open_timezone(jurisdiction)
    accounts = accounts or n
    at = datetime.now(UTC) + timedelta(seconds=due_in_s)
    with session_scope(url) as s:
        camp = Campaign(name="workers", status=status, max_concurrent=max_concurrent, max_attempts=1)
        s.add(camp)
        accs = []
        for i in range(accounts):
            phone = f"+1212555{i:04d}" if jurisdiction == "US" else f"+86138{i:08d}"
            acc = Account(name=f"debtor {i}", phone=phone, timezone=tz, jurisdiction=jurisdiction,
                          language="en", balance=100.0, id_last4="1234")
            s.add(acc)
            accs.append(acc)
        s.flush()
        ids = []
        for i in range(n):
            acc = accs[i % accounts]
            att = Attempt(campaign_id=camp.id, account_id=acc.id, script_id=SCRIPT, phone=acc.phone,
                          status="planned", not_before=at)
            s.add(att)
            s.flush()
            ids.append(att.id)
        return camp.id, ids


FAST_BEATS = {"WORKER_HEARTBEAT_S": "0.5", "WORKER_LOST_S": "4", "MAX_CALL_S": "60"}


def worker_env(url: str, tmp: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DATABASE_URL": url, "VAR_DIR": str(tmp / "var"), "PYTHONPATH": str(ROOT), **FAST_BEATS})
    env.update(extra)
    return env


def spawn_worker(url: str, tmp: Path, *, hold: float, concurrency: int, log: Path, name: str = "w",
                 **env: str) -> subprocess.Popen:
    return spawn_hold_worker(url, tmp, hold=hold, concurrency=concurrency, log=log, name=name,
                             **{**FAST_BEATS, **env})


def wait_ready(proc: subprocess.Popen, timeout: float = 60) -> str:
    """The worker id a spawned worker prints once it takes attempts."""
    return bench_wait_ready(proc, timeout)[0]


def wait_for(pred, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=timeout)


def make_sqlite(tmp: Path) -> str:
    from agent.store import init_db

    url = f"sqlite:///{tmp / 'workers.sqlite3'}"
    init_db(url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def any_url(request, tmp_path):
    """The embedded queue on SQLite, and procrastinate on PostgreSQL."""
    if request.param == "sqlite":
        yield make_sqlite(tmp_path)
        return
    url = make_pg_schema()
    yield url
    drop_pg_schema(url)


@pytest.fixture
def pg_url():
    url = make_pg_schema()
    yield url
    drop_pg_schema(url)

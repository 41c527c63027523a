"""`dialwise bench workers`: one worker process against two, on PostgreSQL, over held lines.

Calls are network-bound (each holds its line `hold` s, `agent.worker.hold`), so throughput measures lines
and queueing, not our CPU. Two runs per configuration, each in a scratch schema:

- backlog: `attempts` attempts all due at once: calls/minute at full load, and due→dialled latency
  (which is mostly waiting for a free line);
- paced: attempts due one after the other at 80 % of the configuration's line capacity: calls/minute
  and the due→dialled latency of a worker pool that keeps up — "2× throughput at the same latency".

Double dials: attempts dialled more than once (from the held lines' own log), which must be 0.
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote

from sqlalchemy import func, select, text

from agent.config import PROJECT_ROOT
from agent.store import init_db, session_scope
from agent.store.models import Account, Attempt, Call, Campaign
from agent.timeutil import aware
from agent.worker.hold import double_dials, read_log

SCRIPT = "collections_m1_zh_a"
PACED_LOAD = 0.8


def open_timezone(jurisdiction: str = "CN", minutes: int = 20) -> str:
    """A fixed-offset zone where a dial is allowed now and for the next `minutes` (hours, holidays)."""
    from agent.campaign.compliance import ProposedDial, check

    now = datetime.now(UTC)
    for offset in (0, 2, -2, 4, -4, 6, -6, 8, -8, 10, -10, 1, -1, 3, -3, 5, -5, 7, -7, 9, -9, 11, 12):
        tz = f"Etc/GMT{'+' if offset < 0 else '-'}{abs(offset)}" if offset else "Etc/GMT"
        if all(check(ProposedDial(jurisdiction=jurisdiction, purpose="collections", at=now + timedelta(minutes=m),
                                  timezone=tz, phone="+8613800000000", debt_id="probe")).allowed
               for m in (0, minutes)):
            return tz
    raise RuntimeError("no timezone allows a dial right now")


def seed(db_url: str, dues: list[datetime], *, max_concurrent: int = 1000) -> str:
    """A running campaign with one planned attempt per due time, each for its own debtor."""
    tz = open_timezone()
    with session_scope(db_url) as s:
        camp = Campaign(name="bench workers", status="running", max_concurrent=max_concurrent, max_attempts=1)
        s.add(camp)
        s.flush()
        for i, due in enumerate(dues):
            acc = Account(name=f"bench {i}", phone=f"+86139{i:08d}", timezone=tz, jurisdiction="CN", language="zh",
                          balance=1000.0, id_last4="0000")
            s.add(acc)
            s.flush()
            s.add(Attempt(campaign_id=camp.id, account_id=acc.id, script_id=SCRIPT, phone=acc.phone,
                          status="planned", not_before=due))
        return camp.id


def scratch_schema(base: str, prefix: str = "bench") -> str:
    """A fresh PostgreSQL schema beside `base` with our tables and procrastinate's; returns its URL (the
    schema on the search path). `drop_scratch_schema` removes it."""
    import sqlalchemy as sa

    from agent.worker.pg_queue import ensure_schema

    base = base.split("?", 1)[0]
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = f"{base}?options={quote(f'-csearch_path={schema}')}"
    init_db(url)
    ensure_schema(url)
    return url


def drop_scratch_schema(db_url: str) -> None:
    import sqlalchemy as sa

    from agent.store.db import engine_for

    engine_for(db_url).dispose()
    base, _, options = db_url.partition("?")
    schema = unquote(options).rsplit("search_path=", 1)[-1]
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def spawn_hold_worker(db_url: str, tmp: Path, *, hold: float, concurrency: int, log: Path, name: str = "worker",
                      **env: str) -> subprocess.Popen:
    """`python -m agent.worker.proc` (the Runtime of `dialwise worker` on held lines) on `db_url`, its var
    under `tmp`, its stderr in `tmp/<name>.log`; `env`: more settings (e.g. WORKER_LOST_S="4")."""
    path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)
    full = dict(os.environ, DATABASE_URL=db_url, VAR_DIR=str(tmp / "var"), PYTHONPATH=path, **env)
    with open(tmp / f"{name}.log", "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "agent.worker.proc", "--hold", str(hold), "--concurrency",
                                 str(concurrency), "--log", str(log)], cwd=PROJECT_ROOT, env=full, text=True,
                                stdout=subprocess.PIPE, stderr=err)


def wait_ready(proc: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    """(worker id, queue kind) from the line a spawned worker prints once it takes attempts."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(timeout=0.2):
            line = proc.stdout.readline()
            if line.startswith("ready "):
                _, worker_id, queue = (line.split() + ["?"])[:3]
                return worker_id, queue
            if not line and proc.poll() is not None:
                break
    raise RuntimeError(f"the worker did not get ready (exit code {proc.poll()})")


def stop_worker(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    """Stop a spawned worker (gracefully: SIGTERM), killing it if it does not exit in `timeout` s."""
    from telephony_adapter.sim.procs import stop_process

    code = stop_process(proc, grace_s=timeout, kill_wait_s=None, sig=sig)
    assert code is not None  # waited for without a limit
    return code


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))], 3)


def _measure(db_url: str, camp_id: str, log: Path, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(db_url) as s:
            open_ = s.scalar(select(func.count()).select_from(Attempt).where(
                Attempt.campaign_id == camp_id, Attempt.status.in_(("planned", "claimed", "dialing"))))
        if not open_:
            break
        time.sleep(0.25)
    with session_scope(db_url) as s:
        rows = s.execute(select(Attempt.not_before, Attempt.dialed_at, Attempt.finished_at, Attempt.status)
                         .where(Attempt.campaign_id == camp_id)).all()
        calls = s.scalar(select(func.count()).select_from(Call).where(Call.campaign_id == camp_id))
    times = [tuple(aware(x) for x in r[:3]) for r in rows]
    dialled = [(nb, d, f) for nb, d, f in times if d is not None]
    latency = [(d - nb).total_seconds() for nb, d, _ in dialled]
    span = (max(f for *_, f in dialled if f) - min(nb for nb, *_ in times)).total_seconds() if dialled else 0
    entries = read_log(log)
    return {"attempts": len(rows), "dialled": len(dialled), "calls": calls,
            "done": sum(1 for r in rows if r[3] == "done"), "seconds": round(span, 2),
            "calls_per_minute": round(len(dialled) / span * 60, 1) if span else None,
            "dial_latency_s": {"p50": _pct(latency, 0.5), "p95": _pct(latency, 0.95)},
            "double_dials": double_dials(entries) + max(0, calls - len(dialled))}


def _one_config(base: str, workers: int, *, attempts: int, hold: float, concurrency: int, mode: str) -> dict:
    url = scratch_schema(base)
    tmp = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    log = tmp / "dials.jsonl"
    procs = [spawn_hold_worker(url, tmp, hold=hold, concurrency=concurrency, log=log, name=f"worker{i}")
             for i in range(workers)]
    try:
        for p in procs:
            wait_ready(p)
        start = datetime.now(UTC) + timedelta(seconds=0.5)
        if mode == "backlog":
            dues = [start] * attempts
        else:
            rate = PACED_LOAD * workers * concurrency / hold  # attempts per second
            dues = [start + timedelta(seconds=i / rate) for i in range(attempts)]
        camp_id = seed(url, dues)
        result = _measure(url, camp_id, log, timeout=60 + attempts * hold)
        if mode == "paced":
            result["offered_per_minute"] = round(PACED_LOAD * workers * concurrency / hold * 60, 1)
        return result
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            stop_worker(p)
        drop_scratch_schema(url)


def run_bench(base: str, *, attempts: int, hold: float, concurrency: int) -> dict:
    out: dict = {"bench": "workers", "engine": "procrastinate on PostgreSQL", "hold_s": hold,
                 "lines_per_worker": concurrency, "attempts": attempts, "cpus": os.cpu_count()}
    for mode in ("backlog", "paced"):
        n = attempts if mode == "backlog" else max(10, attempts // 2)
        runs = {f"{k}_worker{'s' if k > 1 else ''}": _one_config(base, k, attempts=n, hold=hold,
                                                                concurrency=concurrency, mode=mode) for k in (1, 2)}
        one, two = runs["1_worker"], runs["2_workers"]
        if one["calls_per_minute"] and two["calls_per_minute"]:
            runs["throughput_ratio"] = round(two["calls_per_minute"] / one["calls_per_minute"], 2)
        out[mode] = runs
    out["double_dials"] = sum(r["double_dials"] for m in ("backlog", "paced") for k, r in out[m].items()
                              if isinstance(r, dict))
    return out

"""`dialwise bench events`: CRM event in (HTTP POST) -> dial placed, over a real server and a real worker.

- the API: a uvicorn server on a free local port (the app of `dialwise serve`, not dialling itself, as
  with SERVE_DIALS=false) takes `payment_missed` events; the default touch rule turns each into a
  collections touch due at once in the running "real-time touches" campaign;
- the worker: a separate process running the same Runtime as `dialwise worker` (`python -m
  agent.worker.proc`: heartbeat, the queue — procrastinate on PostgreSQL, the embedded poller on SQLite —
  admission, the gated dial path), whose network is the held-line test dialer (`agent.worker.hold`):
  every dial answers and holds its line `hold_s`, so this measures the queue path, not audio.

"Dial placed" is the attempt's `dialed_at`, written by the dial path; the latency is dialed_at minus the
instant the POST was sent. Accounts get a time zone in which the gate allows a dial now and for the
next minutes (calling hours and public holidays: `agent.worker.bench.open_timezone`). On PostgreSQL
the run happens in a scratch schema, dropped afterwards.
"""
from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed(url: str, n: int, zone: str) -> str:
    from agent.server.auth import create_key
    from agent.store import session_scope
    from agent.store.models import Account

    with session_scope(url) as s:
        for i in range(n):
            s.add(Account(external_id=f"bench-{i}", name=f"客户{i}", phone=f"+86139{i:08d}", timezone=zone,
                          jurisdiction="CN", language="zh" if i % 2 else "en", purpose="collections",
                          bucket="M1", balance=1000.0, currency="CNY", days_past_due=3, id_last4="1234"))
        key, _ = create_key(s, "crm", "bench events")
    return key


def _pct(lat: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(lat, q)), 3) if len(lat) else None


def bench_events(n: int = 40, interval_s: float = 0.25, hold_s: float = 0.5, database_url: str | None = None,
                 concurrency: int = 8) -> dict:
    import httpx
    import uvicorn
    from sqlalchemy import select

    from agent.server.app import create_app
    from agent.store import init_db, session_scope
    from agent.store.models import Attempt, Campaign
    from agent.worker.bench import (
        drop_scratch_schema,
        open_timezone,
        scratch_schema,
        spawn_hold_worker,
        stop_worker,
        wait_ready,
    )

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        scratch = bool(database_url and database_url.startswith("postgresql"))
        if database_url and scratch:
            url = scratch_schema(database_url)
        else:
            url = database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
            init_db(url)
        try:
            zone = open_timezone("CN", minutes=10)
            key = _seed(url, n, zone)
            worker = spawn_hold_worker(url, tmp, hold=hold_s, concurrency=concurrency, log=tmp / "dials.jsonl")
            try:
                _, queue = wait_ready(worker)
                port = _free_port()
                server = uvicorn.Server(uvicorn.Config(create_app(url, init_db=False), host="127.0.0.1",
                                                       port=port, log_level="warning"))
                thread = threading.Thread(target=server.run, daemon=True)
                thread.start()
                while not server.started:
                    time.sleep(0.05)
                sent: dict[str, datetime] = {}
                errors = 0
                with httpx.Client(base_url=f"http://127.0.0.1:{port}",
                                  headers={"Authorization": f"Bearer {key}"}) as c:
                    for i in range(n):
                        now = datetime.now(UTC)
                        r = c.post("/api/events", json={"id": f"bench-ev-{i}", "type": "payment_missed",
                                                        "account_external_id": f"bench-{i}", "at": now.isoformat()})
                        if r.status_code != 200 or not (r.json()["effect"].get("touch") or {}).get("queued"):
                            errors += 1
                            continue
                        sent[r.json()["effect"]["touch"]["attempt_id"]] = now
                        time.sleep(interval_s)
                deadline = time.monotonic() + 120
                placed: dict[str, datetime] = {}
                while time.monotonic() < deadline and len(placed) < len(sent):
                    with session_scope(url) as s:
                        for a in s.scalars(select(Attempt).where(Attempt.id.in_(list(sent)),
                                                                 Attempt.dialed_at.is_not(None))):
                            placed[a.id] = a.dialed_at if a.dialed_at.tzinfo else a.dialed_at.replace(tzinfo=UTC)
                    time.sleep(0.2)
                server.should_exit = True
                thread.join(timeout=10)
            finally:
                stop_worker(worker)
            with session_scope(url) as s:
                camp = s.scalars(select(Campaign).where(Campaign.name.like("real-time touches%"))).first()
                rows = s.execute(select(Attempt.status, Attempt.blocked_rule).where(Attempt.id.in_(list(sent)))).all()
        finally:
            if scratch:
                drop_scratch_schema(url)
    lat = np.array([(placed[k] - sent[k]).total_seconds() for k in placed])
    return {
        "events": n, "touches_queued": len(sent), "dials_placed": len(placed), "errors": errors,
        "done": sum(1 for st, _ in rows if st == "done"),
        "blocked": sorted({rule for st, rule in rows if st == "blocked" and rule}),
        "interval_s": interval_s, "hold_s": hold_s, "worker_lines": concurrency,
        "latency_s": {"p50": _pct(lat, 50), "p95": _pct(lat, 95),
                      "max": round(float(lat.max()), 3) if len(lat) else None},
        "target_p95_s": 60, "campaign": camp.name if camp else None, "zone": zone,
        "database": url.split(":", 1)[0], "queue": queue, "cpus": os.cpu_count(),
        "how": "uvicorn app + HTTP POST /api/events -> touch attempt; a separate worker process (the Runtime of "
               "`dialwise worker`, python -m agent.worker.proc) takes it from its queue through admission and the "
               "gated dial path onto held test lines; latency = attempt.dialed_at - POST send time",
    }

"""`dialwise bench events`: CRM event in (HTTP POST) -> dial placed, over a real server and a dialling loop.

A uvicorn server on a free local port takes `payment_missed` events (the default touch rule turns each
into a collections touch due at once); a dialling loop claims due attempts every `poll_s` seconds (the
way `dialwise worker` does) and takes each through the gated dial path (`dial_attempt`: gate, claim,
call row) onto a line where nobody answers. "Dial placed" is the attempt's `dialed_at`, written by the
dial path; the latency is dialed_at minus the instant the POST was sent. Accounts get a time zone in
which it is midday now, so calling hours never hold a touch back.
"""
from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from agent.dialing.base import NO_ANSWER, DialOutcome, DialTarget


class NoAnswerLine:
    """A network on which nobody picks up: the dial is placed, the call never connects."""

    network = "loopback"
    rate_limit = None

    async def dial(self, target: DialTarget) -> DialOutcome:
        return DialOutcome(NO_ANSWER, detail="bench: nobody answers")

    async def close(self) -> None:
        return None


def _midday_zone() -> str:
    """An Etc/GMT zone in which the local time is between 11:00 and 13:00 now."""
    hour = datetime.now(timezone.utc).hour
    offset = (12 - hour + 12) % 24 - 12  # -12..11
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


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


def _dial_loop(url: str, stop: threading.Event, poll_s: float) -> None:
    from agent.dispatcher import claim_due
    from agent.dialing.place import dial_attempt

    line = NoAnswerLine()

    async def loop() -> None:
        while not stop.is_set():
            ids = claim_due(50, worker="bench-loop", db_url=url)
            await asyncio.gather(*(dial_attempt(i, line, worker_id="bench-loop", db_url=url) for i in ids))
            if not ids:
                await asyncio.sleep(poll_s)

    asyncio.run(loop())


def bench_events(n: int = 40, interval_s: float = 0.25, poll_s: float = 2.0, database_url: str | None = None) -> dict:
    import httpx
    import uvicorn
    from sqlalchemy import select

    from agent.server.app import create_app
    from agent.store import init_db, session_scope
    from agent.store.models import Attempt, Campaign

    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        init_db(url)
        zone = _midday_zone()
        key = _seed(url, n, zone)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(url, init_db=False), host="127.0.0.1", port=port,
                                               log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        stop = threading.Event()
        worker = threading.Thread(target=_dial_loop, args=(url, stop, poll_s), daemon=True)
        worker.start()
        sent: dict[str, datetime] = {}
        errors = 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}) as c:
            for i in range(n):
                now = datetime.now(timezone.utc)
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
                for a in s.scalars(select(Attempt).where(Attempt.id.in_(list(sent)), Attempt.dialed_at.is_not(None))):
                    placed[a.id] = a.dialed_at if a.dialed_at.tzinfo else a.dialed_at.replace(tzinfo=timezone.utc)
            time.sleep(0.2)
        stop.set()
        server.should_exit = True
        worker.join(timeout=10)
        with session_scope(url) as s:
            camp = s.scalars(select(Campaign).where(Campaign.name.like("real-time touches%"))).first()
            blocked = s.scalars(select(Attempt.blocked_rule).where(Attempt.id.in_(list(sent)),
                                                                   Attempt.status == "blocked")).all()
    lat = np.array([(placed[k] - sent[k]).total_seconds() for k in placed])
    return {
        "events": n, "touches_queued": len(sent), "dials_placed": len(placed), "errors": errors,
        "blocked": sorted(set(b for b in blocked if b)), "poll_s": poll_s, "interval_s": interval_s,
        "latency_s": {"p50": round(float(np.percentile(lat, 50)), 3) if len(lat) else None,
                      "p95": round(float(np.percentile(lat, 95)), 3) if len(lat) else None,
                      "max": round(float(lat.max()), 3) if len(lat) else None},
        "target_p95_s": 60, "campaign": camp.name if camp else None, "zone": zone,
        "database": url.split(":", 1)[0],
        "how": "uvicorn + HTTP POST /api/events -> touch attempt; in-process dialling loop polling every "
               "poll_s (dialwise worker not on main yet) through dial_attempt onto a no-answer line; "
               "latency = attempt.dialed_at - POST send time",
    }

"""`dialwise bench console`: seed N calls (default 100,000) with their accounts, outcomes, turns and some
reviews, then time the console's calls list through the real app (HTTP over ASGI, auth and JSON included):
the first page with its total, a find by phone, by name, an outcome filter, sorts, the review queue.
SQLite (a temporary file) or PostgreSQL (a scratch schema, dropped afterwards). Prints one JSON object."""
from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from agent.store.models import Account, Call, Outcome, Turn
from agent.store.review_models import CallReview

BUDGET_MS = 300.0
OUTCOMES = ("ptp", "refused", "no_answer", "voicemail", "callback", "dispute", "wrong_number", "unverified",
            "paid_already", "hung_up")
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = ("芳", "伟", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军")
EN_NAMES = ("Jane Doe", "John Smith", "Mary Major", "Alex Kim", "Sam Lee", "Chris Wu")


def seed(db_url: str, calls: int, accounts: int, turns_per_call: int, rng: random.Random) -> dict[str, Any]:
    from agent.store.db import get_engine

    engine = get_engine(db_url)
    now = datetime.now(UTC).replace(microsecond=0)
    acc_rows = []
    for i in range(accounts):
        zh = i % 3 != 0
        acc_rows.append({
            "id": uuid.uuid4().hex, "external_id": f"LN-{i:07d}",
            "name": (rng.choice(SURNAMES) + rng.choice(GIVEN) + str(i)) if zh else f"{rng.choice(EN_NAMES)} {i}",
            "phone": f"+86138{i:08d}" if zh else f"+1312{i:07d}",
            "timezone": "Asia/Shanghai" if zh else "America/Chicago",
            "jurisdiction": "CN" if zh else "US", "language": "zh" if zh else "en", "purpose": "collections",
            "balance": 1000.0 + i, "currency": "CNY" if zh else "USD", "days_past_due": i % 90, "id_last4": "",
            "consent_calls": True, "consent_marketing": False, "consent_recording": True, "custom": {},
            "created_at": now, "updated_at": now})
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for i in range(0, len(acc_rows), 5000):
            conn.execute(insert(Account), acc_rows[i:i + 5000])
        batch_calls: list[dict] = []
        batch_out: list[dict] = []
        batch_turns: list[dict] = []
        batch_reviews: list[dict] = []

        def flush() -> None:
            for model, rows in ((Call, batch_calls), (Outcome, batch_out), (Turn, batch_turns),
                                (CallReview, batch_reviews)):
                if rows:
                    conn.execute(insert(model), rows)
                    rows.clear()

        for i in range(calls):
            acc = acc_rows[rng.randrange(accounts)]
            started = now - timedelta(seconds=rng.randrange(90 * 86400))
            outcome = rng.choice(OUTCOMES)
            cid = uuid.uuid4().hex
            batch_calls.append({"id": cid, "account_id": acc["id"], "script_id": "collections_m1",
                                "language": acc["language"], "transport": "loopback", "status": "ended",
                                "started_at": started, "ended_at": started + timedelta(seconds=rng.randrange(5, 400)),
                                "outcome": outcome, "end_reason": "completed", "slots": {}})
            batch_out.append({"call_id": cid, "account_id": acc["id"], "kind": outcome, "details": {},
                              "promise_amount": float(rng.randrange(100, 20000)) if outcome == "ptp" else None,
                              "created_at": started})
            for seq in range(turns_per_call):
                batch_turns.append({"call_id": cid, "seq": seq, "speaker": "agent" if seq % 2 == 0 else "callee",
                                    "text": "您好，关于您的账单" if seq % 2 == 0 else "我下周五还五百",
                                    "entities": {}, "latency": {}, "start_ms": seq * 3000,
                                    "end_ms": seq * 3000 + 2500, "interrupted": False,
                                    "confidence": 0.9 if seq % 2 else None, "created_at": started})
            if i % 50 == 0:
                batch_reviews.append({"call_id": cid, "notes": "", "tags": {"items": ["coaching"]}, "scores": {},
                                      "score": 75.0, "version": 1, "reviewed_by": "bench", "reviewed_at": now})
            if len(batch_calls) >= 5000:
                flush()
        flush()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return {"seed_s": round(time.perf_counter() - t0, 1), "phone": acc_rows[7]["phone"],
            "name": acc_rows[7]["name"], "external_id": acc_rows[7]["external_id"]}


def _time(client, headers, params: dict[str, Any], repeats: int) -> dict[str, Any]:
    times = []
    body: dict[str, Any] = {}
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = client.get("/api/calls" if "_path" not in params else params["_path"],
                       params={k: v for k, v in params.items() if k != "_path"}, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text
        body = r.json()
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1), "max_ms": round(times[-1], 1), "total": body["total"],
            "rows": len(body["items"])}


def bench_console(calls: int = 100_000, accounts: int = 20_000, turns_per_call: int = 2, repeats: int = 15,
                  pg_url: str | None = None, seed_value: int = 7) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from agent.server.app import create_app
    from agent.server.auth import create_key
    from agent.store import init_db
    from agent.store.db import session_scope

    rng = random.Random(seed_value)
    schema = None
    with tempfile.TemporaryDirectory() as tmp:
        if pg_url and pg_url.startswith("postgresql"):
            from agent.worker.bench import _scratch_schema

            url, schema = _scratch_schema(pg_url)
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            init_db(url)
        try:
            seeded = seed(url, calls, accounts, turns_per_call, rng)
            with session_scope(url) as s:
                key, _ = create_key(s, "supervisor")
            headers = {"Authorization": f"Bearer {key}"}
            queries = {
                "first_page": {"limit": 50},
                "find_phone": {"find": seeded["phone"]},
                "find_phone_formatted": {"find": _formatted(seeded["phone"])},
                "find_name": {"find": seeded["name"]},
                "find_external_id": {"find": seeded["external_id"]},
                "outcome_filter": {"outcome": "unverified"},
                "outcome_and_days": {"outcome": "ptp", "date_from": (datetime.now(UTC) - timedelta(days=7))
                                     .date().isoformat(), "tz": "Asia/Shanghai"},
                "sort_promise_amount": {"sort": "-promise_amount"},
                "sort_duration": {"sort": "-duration"},
                "review_queue": {"_path": "/api/reviews/queue", "reason": "complaint"},
            }
            if turns_per_call:
                queries["transcript_search"] = {"q": "下周五"}
            with TestClient(create_app(url, init_db=False)) as client:
                client.get("/api/calls", headers=headers)  # warm: connections, statements
                results = {name: _time(client, headers, p, repeats) for name, p in queries.items()}
        finally:
            if schema is not None:
                from agent.worker.bench import _drop

                _drop(pg_url or "", url, schema)
    searches = {k: v for k, v in results.items() if k.startswith(("first_page", "find_", "outcome_"))}
    worst = max(v["p50_ms"] for v in searches.values())
    return {"bench": "console", "database": url.split(":", 1)[0].split("+")[0], "calls": calls,
            "accounts": accounts, "turns": calls * turns_per_call, "seed_s": seeded["seed_s"],
            "repeats": repeats, "budget_ms": BUDGET_MS, "worst_search_p50_ms": worst,
            "within_budget": worst < BUDGET_MS, "queries": results}


def _formatted(e164: str) -> str:
    if e164.startswith("+1"):
        d = e164[2:]
        return f"({d[:3]}) {d[3:6]}-{d[6:]}"
    d = e164[3:]
    return f"{d[:3]} {d[3:7]} {d[7:]}"


def register(app, bench_app) -> None:
    import json

    import typer

    @bench_app.command("console")
    def bench_console_cmd(
        calls: int = typer.Option(100_000, "--calls", min=100, max=2_000_000),
        accounts: int = typer.Option(20_000, "--accounts", min=10, max=1_000_000),
        turns: int = typer.Option(2, "--turns", min=0, max=20, help="turns per call (for the transcript search)"),
        repeats: int = typer.Option(15, "--repeats", min=1, max=1000),
        pg_url: str | None = typer.Option(None, "--database-url", help="default: a temporary SQLite "
                                                   "file; a PostgreSQL URL runs in a scratch schema"),
    ) -> None:
        """The console's calls list over N seeded calls: search and sort times (p50/max ms, JSON)."""
        typer.echo(json.dumps(bench_console(calls, accounts, turns, repeats, pg_url), ensure_ascii=False))

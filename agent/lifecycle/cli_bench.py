"""`dialwise bench events` and `dialwise bench lifecycle` (JSON)."""
from __future__ import annotations

import json

import typer


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    @bench_app.command("events")
    def bench_events_cmd(
        events: int = typer.Option(40, "--events", min=1, max=10_000),
        interval: float = typer.Option(0.25, "--interval", min=0.0, help="seconds between events"),
        hold: float = typer.Option(0.5, "--hold", min=0.05, help="seconds each held test line stays up"),
        lines: int = typer.Option(8, "--lines", min=1, max=256, help="the worker's lines (calls at a time)"),
        database_url: str | None = typer.Option(None, "--database-url", help="default: a temporary SQLite "
                                                   "file; a PostgreSQL URL runs in a scratch schema"),
    ) -> None:
        """Event in (HTTP) -> dial placed by a real worker process (held test lines): p50/p95/max s (JSON)."""
        from agent.lifecycle.bench_events import bench_events

        typer.echo(json.dumps(bench_events(events, interval, hold, database_url, lines), ensure_ascii=False))

    @bench_app.command("lifecycle")
    def bench_lifecycle_cmd(
        accounts: int = typer.Option(2000, "--accounts", min=10, max=1_000_000),
        days: int = typer.Option(10, "--days", min=1, max=365),
        capacity: int = typer.Option(300, "--capacity", min=1, help="dials per day"),
        seed: int = typer.Option(7, "--seed"),
    ) -> None:
        """Simulated lifecycle vs the same planner without promise follow-up, in one run (JSON)."""
        import time

        from agent.lifecycle.sim import run

        t0 = time.perf_counter()
        out = run(accounts, days, capacity, seed)
        out["seconds"] = round(time.perf_counter() - t0, 1)
        typer.echo(json.dumps(out, ensure_ascii=False))

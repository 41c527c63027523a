"""`dialwise bench events` and `dialwise bench lifecycle` (JSON)."""
from __future__ import annotations

import json
from typing import Optional

import typer


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    @bench_app.command("events")
    def bench_events_cmd(
        events: int = typer.Option(40, "--events", min=1, max=10_000),
        interval: float = typer.Option(0.25, "--interval", min=0.0, help="seconds between events"),
        poll: float = typer.Option(2.0, "--poll", min=0.05, help="dialling loop poll interval (s)"),
        database_url: Optional[str] = typer.Option(None, "--database-url", help="default: a temporary SQLite file"),
    ) -> None:
        """Event in (HTTP) -> dial placed: p50/p95/max seconds with a dialling loop running (JSON)."""
        from agent.lifecycle.bench_events import bench_events

        typer.echo(json.dumps(bench_events(events, interval, poll, database_url), ensure_ascii=False))

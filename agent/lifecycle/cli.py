"""CLI of the lifecycle: `events import`, `promises list|sweep`, `audit`, `bench events|lifecycle`."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from agent.errors import UserError


def _echo(obj) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def events_import(path: Path = typer.Argument(..., help="JSONL: one event per line")) -> None:
    """Apply CRM events from a file, in `at` order; idempotent by id; all or nothing."""
    from agent.lifecycle.importer import import_events
    from agent.store import init_db

    init_db()
    _echo(import_events(path))


def promises_list(
    status: str | None = typer.Option(None, "--status", help="pending|kept|partially_kept|broken|cancelled"),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
) -> None:
    """Promises to pay, soonest due first."""
    from sqlalchemy import select

    from agent.lifecycle.promises import promise_dict
    from agent.store import init_db, session_scope
    from agent.store.lifecycle_models import PROMISE_STATUSES, Promise

    if status and status not in PROMISE_STATUSES:
        raise UserError(f"unknown status {status!r}; use one of {', '.join(PROMISE_STATUSES)}")
    init_db()
    with session_scope() as s:
        q = select(Promise).order_by(Promise.due_date, Promise.id).limit(limit)
        if status:
            q = q.where(Promise.status == status)
        _echo([promise_dict(p) for p in s.scalars(q)])


def promises_sweep() -> None:
    """Mark promises whose grace days have passed unpaid as broken (run daily, or let the planner do it)."""
    from agent.lifecycle.promises import sweep
    from agent.store import init_db, session_scope

    init_db()
    with session_scope() as s:
        changes = sweep(s)
    _echo({"changed": changes, "count": len(changes)})


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    events_app = typer.Typer(help="CRM events: payments, missed payments, due dates, applications, limits.",
                             no_args_is_help=True)
    events_app.command("import")(events_import)
    app.add_typer(events_app, name="events")
    promises_app = typer.Typer(help="Promises to pay, followed until kept or broken.", no_args_is_help=True)
    promises_app.command("list")(promises_list)
    promises_app.command("sweep")(promises_sweep)
    app.add_typer(promises_app, name="promises")
    import importlib

    for name in ("agent.lifecycle.cli_audit", "agent.lifecycle.cli_bench"):
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        mod.register(app, bench_app)

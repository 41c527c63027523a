"""CLI: `dialwise worker` and `dialwise bench workers`."""
from __future__ import annotations

import typer

from agent.errors import UserError


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command()
    def worker(
        concurrency: int = typer.Option(None, min=1, max=256, help=(
            "calls at a time (default: MAX_CONCURRENT_CALLS; at most 4 with the sip network enabled: "
            "run more workers for more)")),
        network: str = typer.Option(None, help="network for campaigns that name none (default: DIAL_NETWORK): "
                                               "loopback | twilio | sip"),
    ) -> None:
        """Run calls until stopped: due attempts of running campaigns, through the compliance gate, on each
        campaign's network. Any number of workers share one PostgreSQL (procrastinate queue); on SQLite the
        embedded queue polls the database. SIGTERM: dial nothing new, finish the calls in progress, exit."""
        import asyncio
        import logging
        import time

        from agent.calls import get_deps
        from agent.config import get_settings
        from agent.dialing.place import check_network
        from agent.store import init_db
        from agent.worker.runtime import Runtime, run_until_signal

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("procrastinate").setLevel(logging.WARNING)
        settings = get_settings()
        if network:
            check_network(network)
        try:
            url = init_db()
        except Exception as exc:
            raise UserError(f"cannot open the database: {type(exc).__name__}: {exc}; check DATABASE_URL") from None
        t0 = time.monotonic()
        typer.echo("loading models …", err=True)
        get_deps()  # loaded and warmed (agent/warm_up.py) before "ready": the first call greets in time
        typer.echo(f"models ready in {time.monotonic() - t0:.1f} s", err=True)
        rt = Runtime(kind="worker", db_url=url, concurrency=concurrency, default_network=network, settings=settings)

        def ready(rt: Runtime) -> None:
            typer.echo(f"worker {rt.id} ready: {rt.queue_kind} queue on {url.split(':', 1)[0]}, "
                       f"{rt.concurrency} lines, default network {rt.lines.default_network}; SIGTERM to stop")

        asyncio.run(run_until_signal(rt, on_ready=ready))
        typer.echo(f"worker {rt.id} stopped")

    @bench_app.command("workers")
    def bench_workers(
        attempts: int = typer.Option(240, min=10, help="due attempts per run"),
        hold: float = typer.Option(2.0, min=0.1, help="seconds each answered call holds the line"),
        concurrency: int = typer.Option(8, min=1, max=64, help="lines per worker process"),
    ) -> None:
        """1 worker process vs 2 on PostgreSQL, over held lines (network-bound calls): calls per minute,
        due→dialled latency, double dials. Needs DATABASE_URL=postgresql+psycopg://…"""
        import json

        from agent.config import get_settings
        from agent.worker.bench import run_bench

        url = get_settings().resolved_database_url()
        if not url.startswith("postgresql"):
            raise UserError("bench workers needs PostgreSQL (procrastinate): set "
                            "DATABASE_URL=postgresql+psycopg://user@host:5432/db")
        print(json.dumps(run_bench(url, attempts=attempts, hold=hold, concurrency=concurrency)))

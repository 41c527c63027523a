"""CLI: `dialwise serve`, `dialwise keys create|list|revoke`, `dialwise webhooks dispatch`."""
from __future__ import annotations

import typer

from agent.errors import UserError


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    keys_app = typer.Typer(help="API keys (scopes: admin, supervisor, crm).", no_args_is_help=True)
    webhooks_app = typer.Typer(help="CRM webhooks.", no_args_is_help=True)
    app.add_typer(keys_app, name="keys")
    app.add_typer(webhooks_app, name="webhooks")

    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="interface to listen on"),
        port: int = typer.Option(8000, min=1, max=65535, help="TCP port"),
        webhooks: bool = typer.Option(True, help="run the webhook dispatcher in this process"),
        log_level: str = typer.Option("info", help="uvicorn log level"),
    ) -> None:
        """Start the API, the supervisor console (/console/) and the docs (/docs)."""
        import socket

        import uvicorn

        from agent.server.app import create_app

        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise UserError(f"cannot listen on {host}:{port} ({exc.strerror}); "
                                "pick another with --port") from None
        try:
            application = create_app(run_webhooks=webhooks, load_models=True, run_dials=True)
        except Exception as exc:
            raise UserError(f"cannot open the database: {exc}; check DATABASE_URL") from None
        typer.echo(f"dialwise on http://{host}:{port}  console: /console/  docs: /docs")
        uvicorn.run(application, host=host, port=port, log_level=log_level)

    @keys_app.command("create")
    def keys_create(
        scope: str = typer.Option(..., help="admin | supervisor | crm"),
        label: str = typer.Option(None, help="a note on who uses the key"),
    ) -> None:
        """Create an API key; the key is printed alone on the last line (shown only once)."""
        from agent.config import get_settings
        from agent.server.app import prepare_database
        from agent.server.auth import SCOPES, create_key
        from agent.store.db import session_scope

        if scope not in SCOPES:
            raise UserError(f"unknown scope {scope!r}; use one of: {', '.join(SCOPES)}")
        url = get_settings().resolved_database_url()
        prepare_database(url)
        with session_scope(url) as s:
            key, row = create_key(s, scope, label)
            key_id = row.id
        typer.echo(f"created {scope} key {key_id} (store it now: it is not shown again)")
        typer.echo(key)

    @keys_app.command("list")
    def keys_list() -> None:
        """List keys (id, prefix, scope, label, revoked)."""
        from sqlalchemy import select

        from agent.config import get_settings
        from agent.server.app import prepare_database
        from agent.store.db import session_scope
        from agent.store.models import ApiKey

        url = get_settings().resolved_database_url()
        prepare_database(url)
        with session_scope(url) as s:
            for k in s.scalars(select(ApiKey).order_by(ApiKey.created_at)).all():
                state = "revoked" if k.revoked_at else "active"
                typer.echo(f"{k.id}  dw_{k.prefix}_…  {k.scope:<10} {state:<8} {k.label or ''}")

    @keys_app.command("revoke")
    def keys_revoke(key_id: str = typer.Argument(..., help="the key id from `keys list`")) -> None:
        """Revoke a key at once."""
        from agent.config import get_settings
        from agent.server.app import prepare_database
        from agent.server.auth import revoke_key
        from agent.store.db import session_scope

        url = get_settings().resolved_database_url()
        prepare_database(url)
        with session_scope(url) as s:
            if not revoke_key(s, key_id):
                raise UserError(f"no active key with id {key_id!r}; see `dialwise keys list`")
        typer.echo(f"revoked {key_id}")

    @webhooks_app.command("dispatch")
    def webhooks_dispatch(
        once: bool = typer.Option(False, help="one pass, then exit"),
        interval: float = typer.Option(1.0, min=0.05, help="seconds between idle passes"),
    ) -> None:
        """Deliver outbox events to subscribers (safe to run in several processes)."""
        import json

        from agent.config import get_settings
        from agent.server.app import prepare_database
        from agent.server.webhooks import Dispatcher

        settings = get_settings()
        url = settings.resolved_database_url()
        prepare_database(url)
        d = Dispatcher(url, public_base_url=settings.public_base_url)
        if once:
            stats = d.run_once()
            d.stop()
            typer.echo(json.dumps(stats.__dict__))
            return
        typer.echo("dispatching webhooks; Ctrl-C to stop")
        try:
            d.run_forever(interval)
        finally:
            d.stop()

"""The `dialwise` command line. Each area registers its own commands (see REGISTRARS).

Heavy imports (models, torch, the database) happen inside commands, so `dialwise --help`
stays fast. Errors reach the user as one clear line, never a traceback.
"""
from __future__ import annotations

import importlib
import sys

import typer

from agent.errors import UserError

app = typer.Typer(
    help="dialwise: outbound collections and telesales calls in Mandarin and English.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
bench_app = typer.Typer(help="Benchmarks: each prints one JSON object.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

# Modules exposing `register(app, bench_app)`; each owns its commands.
REGISTRARS = (
    "agent.commands",
    "speech.cli",
    "nlu.cli",
    "dialogs.cli",
    "agent.campaign.cli",
    "agent.campaign.cli_data",
    "telephony_adapter.cli",
    "agent.server.cli",
)

for _name in REGISTRARS:
    try:
        _mod = importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # an area not built yet
        if exc.name != _name:
            raise
        continue
    _mod.register(app, bench_app)


def main() -> None:
    try:
        app()
    except UserError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)

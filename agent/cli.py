"""The `dialwise` command line. Each area registers its own commands (see REGISTRARS).

Heavy imports (models, torch, the database) happen inside commands, so `dialwise --help`
stays fast. Errors reach the user as one clear line, never a traceback.
"""
from __future__ import annotations

import importlib
import os
import sys
from datetime import UTC

import typer

from agent.errors import USER_ERRORS

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
    "agent.cli_speech",
    "agent.cli_turns",
    "agent.cli_nlu",
    "agent.cli_dialogs",
    "agent.campaign.cli",
    "agent.campaign.cli_data",
    "agent.cli_telephony",
    "agent.server.cli",
    "agent.dialing.cli",
    "agent.dialing.bench_capacity",
    "agent.worker.cli",
    "agent.lifecycle.cli",
    "agent.server.bench_console",
)

for _name in REGISTRARS:
    importlib.import_module(_name).register(app, bench_app)


def main() -> None:
    try:
        app()
    except USER_ERRORS as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: one line for the user, the traceback in the log file
        if os.environ.get("DIALWISE_DEBUG"):
            raise
        where = _log_traceback()
        typer.secho(f"error: {type(exc).__name__}: {exc}", fg="red", err=True)
        typer.secho(f"(an internal error; details in {where}; set DIALWISE_DEBUG=1 to see them here)", err=True)
        sys.exit(1)


def _log_traceback() -> str:
    import traceback
    from datetime import datetime

    from agent.config import get_settings

    path = get_settings().var_dir / "logs" / "dialwise-errors.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {datetime.now(UTC).isoformat()} {' '.join(sys.argv)}\n")
            fh.write(traceback.format_exc())
        return str(path)
    except OSError:
        return "stderr (the log file could not be written)"

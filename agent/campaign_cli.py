"""`dialwise campaigns create|start|pause|set|attempts`: the campaign controls of the API and console,
from the command line (workers see each change at their next poll)."""
from __future__ import annotations

import json
from pathlib import Path

import typer
from sqlalchemy import select

from agent import campaign_control as control
from agent.errors import UserError


def register(campaigns_app: typer.Typer) -> None:
    campaigns_app.command("create")(create)
    campaigns_app.command("start")(start)
    campaigns_app.command("pause")(pause)
    campaigns_app.command("set")(change)
    campaigns_app.command("attempts")(attempts)


def _out(camp) -> dict:
    return {"id": camp.id, "name": camp.name, "status": camp.status, "purpose": camp.purpose,
            "network": camp.network, "max_concurrent": camp.max_concurrent, "max_attempts": camp.max_attempts}


def _accounts(accounts: str | None) -> list[str]:
    """Account ids: comma-separated, or @FILE with one id per line."""
    if not accounts:
        return []
    if accounts.startswith("@"):
        path = Path(accounts[1:])
        if not path.is_file():
            raise UserError(f"no such file: {path}")
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [a.strip() for a in accounts.split(",") if a.strip()]


def create(
    name: str = typer.Argument(..., help="campaign name"),
    purpose: str = typer.Option("collections", help="collections | telesales"),
    network: str = typer.Option(None, help="loopback | twilio | sip (default: the DIAL_NETWORK setting)"),
    script: str = typer.Option(None, help="script id for the given accounts"),
    accounts: str = typer.Option(None, help="account ids, comma-separated or @FILE (one per line)"),
    schedule: str = typer.Option("now", help="now: due when started; planner: the planner picks each time"),
    max_concurrent: int = typer.Option(4, min=1, max=1000, help="calls at a time across all workers"),
    max_attempts: int = typer.Option(3, min=1, max=100, help="dials per account in this campaign"),
) -> None:
    """Create a draft campaign (start it with `dialwise campaigns start ID`). Prints it as JSON."""
    from agent.store import init_db, session_scope

    if purpose not in ("collections", "telesales"):
        raise UserError(f"--purpose must be collections or telesales, not {purpose!r}")
    init_db()
    with session_scope() as s:
        camp = control.create_campaign(s, name=name, purpose=purpose, network=network, script_id=script,
                                       account_ids=_accounts(accounts), schedule=schedule,
                                       max_concurrent=max_concurrent, max_attempts=max_attempts)
        typer.echo(json.dumps(_out(camp), ensure_ascii=False))


def _move(campaign_id: str, action: str) -> None:
    from agent.store import init_db, session_scope

    init_db()
    with session_scope() as s:
        typer.echo(json.dumps(_out(control.move_campaign(s, campaign_id, action)), ensure_ascii=False))


def start(campaign_id: str = typer.Argument(..., help="campaign id")) -> None:
    """Start or resume dialling: due attempts are dialled by the running workers (or `campaigns run`)."""
    _move(campaign_id, "start")


def pause(campaign_id: str = typer.Argument(..., help="campaign id")) -> None:
    """Pause: no new dials; calls in progress finish."""
    _move(campaign_id, "pause")


def change(
    campaign_id: str = typer.Argument(..., help="campaign id"),
    network: str = typer.Option(None, help="loopback | twilio | sip, or 'default' for DIAL_NETWORK"),
    max_concurrent: int = typer.Option(None, min=1, max=1000, help="calls at a time across all workers"),
    max_attempts: int = typer.Option(None, min=1, max=100, help="dials per account in this campaign"),
) -> None:
    """Change a campaign's network or limits; workers follow within about a second."""
    from agent.store import init_db, session_scope

    changes: dict = {}
    if network is not None:
        changes["network"] = None if network == "default" else network
    if max_concurrent is not None:
        changes["max_concurrent"] = max_concurrent
    if max_attempts is not None:
        changes["max_attempts"] = max_attempts
    if not changes:
        raise UserError("nothing to change: give --network, --max-concurrent or --max-attempts")
    init_db()
    with session_scope() as s:
        typer.echo(json.dumps(_out(control.change_campaign(s, campaign_id, **changes)), ensure_ascii=False))


def attempts(
    campaign_id: str = typer.Argument(..., help="campaign id"),
    status: str = typer.Option(None, help="only this status (planned, dialing, done, failed, blocked)"),
) -> None:
    """The campaign's attempts as JSON lines: status, result, the blocking rule, attempt number, times."""
    from agent.store import init_db, session_scope
    from agent.store.models import Attempt

    init_db()
    with session_scope() as s:
        control.get_campaign(s, campaign_id)
        stmt = select(Attempt).where(Attempt.campaign_id == campaign_id).order_by(Attempt.created_at, Attempt.id)
        if status:
            stmt = stmt.where(Attempt.status == status)
        for a in s.scalars(stmt):
            typer.echo(json.dumps({
                "id": a.id, "account_id": a.account_id, "status": a.status, "result": a.result,
                "blocked_rule": a.blocked_rule, "attempt_no": a.attempt_no, "network": a.network,
                "not_before": a.not_before.isoformat() if a.not_before else None,
                "dialed_at": a.dialed_at.isoformat() if a.dialed_at else None, "detail": a.detail}))

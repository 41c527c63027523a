"""`dialwise call`: one call to one account on any network, through the compliance gate."""
from __future__ import annotations

import asyncio
import json

import typer

from agent.errors import UserError


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command("call")(call)


def call(
    account_id: str = typer.Argument(..., help="account to call"),
    script_id: str = typer.Argument(..., help="script to run"),
    network: str = typer.Option(None, help="loopback | twilio | sip (default: the DIAL_NETWORK setting)"),
    to: str = typer.Option("", help="number to dial (default: the account's phone)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="ask the gate and create the call; dial nothing "
                                                          "(twilio: print the TwiML)"),
) -> None:
    """Place one call through the compliance gate (a refusal prints its rule and exits 3), wait until it
    is over, and print the call id, the network's result and the outcome as JSON."""
    from agent.config import get_settings
    from agent.dialing.place import DialBlocked, dry_run_call, run_prepared, start_call
    from agent.store import init_db

    settings = get_settings()
    network = network or settings.dial_network
    url = init_db()
    try:
        if dry_run:
            call_id = dry_run_call(account_id, script_id, network, db_url=url)
            out = {"call_id": call_id, "status": "dry_run"}
            if network == "twilio":
                from telephony_adapter.twilio import stream_twiml

                out["twiml"] = stream_twiml(call_id, settings.public_base_url)
            typer.echo(json.dumps(out, ensure_ascii=False))
            return
        prep = start_call(account_id, script_id, network, phone=to or None, db_url=url)
    except DialBlocked as exc:
        typer.echo(json.dumps({"status": "blocked", "rule": exc.rule, "reason": exc.reason}, ensure_ascii=False))
        raise typer.Exit(3) from None

    async def ring():
        from agent.calls import get_deps
        from agent.dialing.registry import build_dialer

        deps = await asyncio.to_thread(get_deps)
        dialer = build_dialer(network, deps, db_url=url)
        try:
            return await run_prepared(prep, dialer, db_url=url)
        finally:
            await dialer.close()

    typer.echo(json.dumps({"call_id": prep.call_id, "status": "dialing", "network": network}), err=True)
    outcome = asyncio.run(ring())
    result = {"call_id": prep.call_id, "network": network, "result": outcome.result,
              "outcome": outcome.call.outcome if outcome.call else None, "provider_ref": outcome.provider_ref,
              "detail": outcome.detail}
    typer.echo(json.dumps(result, ensure_ascii=False))
    if outcome.result == "failed":
        raise UserError(f"the call failed: {outcome.detail}")

"""`dialwise campaigns run`: plan today's touches for a campaign and place the calls that are due."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime

import typer
from sqlalchemy import func, select

from agent.errors import UserError


def campaigns_run(
    campaign_id: str = typer.Argument(..., help="campaign id (see `dialwise campaigns report`)"),
    concurrency: int = typer.Option(None, min=1, max=64, help="lines at a time (default: the campaign's "
                                    "max_concurrent, which also caps the calls in flight across all workers)"),
    plan: bool = typer.Option(True, help="plan today's touches first when the campaign has none pending"),
    network: str = typer.Option(None, help="loopback (simulated customers, offline), twilio or sip; default: "
                                           "the campaign's network, else the DIAL_NETWORK setting"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Call the campaign's due attempts, N lines at a time, with live progress, through the same queue
    and admission as `dialwise worker`. Paused campaigns are not dialled (a pause mid-run stops it once
    the calls in progress end); no-answer and busy are retried with backoff; requested call-backs become
    attempts at their time; every dial passes the compliance gate again first."""
    from agent.config import get_settings
    from agent.demo import _console, _run_with_progress, load_deps, summarize
    from agent.dialing.place import check_network
    from agent.store import init_db, session_scope
    from agent.store.models import Attempt, Campaign

    if network:
        check_network(network)
    url = init_db()
    console = _console(quiet=as_json)
    with session_scope() as s:
        camp = s.get(Campaign, campaign_id)
        if camp is None:
            raise UserError(f"no campaign {campaign_id!r}")
        if camp.status == "paused":
            raise UserError(f"campaign {campaign_id} is paused; "
                            f"start it first (POST /api/campaigns/{campaign_id}/start)")
        pending = s.scalar(select(func.count()).select_from(Attempt)
                           .where(Attempt.campaign_id == campaign_id, Attempt.status == "planned")) or 0
        if pending == 0 and plan:
            from agent.campaign.plan_db import plan_campaign_day

            ids = (camp.settings or {}).get("accounts")
            plan_campaign_day(s, campaign_id, date.today(), capacity=10_000, account_ids=ids)
        camp.status = "running"
        lines = concurrency or camp.max_concurrent
        network = network or camp.network or get_settings().dial_network
    now = datetime.now(UTC)
    with session_scope() as s:
        due = s.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.campaign_id == campaign_id, Attempt.status == "planned", Attempt.not_before <= now)) or 0
        next_at = s.scalar(select(func.min(Attempt.not_before)).where(
            Attempt.campaign_id == campaign_id, Attempt.status == "planned", Attempt.not_before > now))
    if due == 0:
        msg = f"nothing due now; next attempt at {next_at:%Y-%m-%d %H:%M} UTC" if next_at else "nothing to call"
        print(json.dumps({"calls": 0, "next_attempt_at": str(next_at) if next_at else None}) if as_json else msg)
        return
    deps = load_deps(console)
    from agent.dialing.registry import build_dialer

    dialer = build_dialer(network, deps, today=date.today(), db_url=url)
    console.print(f"dialling {due} due attempt(s) on {network}, {lines} at a time")
    reports = _run_with_progress(console, campaign_id, deps, lines, now, date.today(), due, simulated_clock=False,
                                 dialer=dialer)
    summary = summarize(reports, get_settings(), url)
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        from agent.demo import print_summary

        print_summary(console, summary, reports)

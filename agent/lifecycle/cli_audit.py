"""`dialwise audit CALL_ID` / `dialwise audit --since 2025-06-01`: audit ended calls again, print findings."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import typer

from agent.errors import UserError


def audit_cmd(
    call_id: str | None = typer.Argument(None, help="one call"),
    since: str | None = typer.Option(None, "--since", help="every call ended since (ISO date or instant)"),
) -> None:
    """Audit calls (disclosures, verification, opt-out, dispute, talk-over, confidence) and store findings."""
    from sqlalchemy import select

    from agent.lifecycle.audit_store import audit_and_store
    from agent.store import init_db, session_scope
    from agent.store.models import Call

    if (call_id is None) == (since is None):
        raise UserError("give a CALL_ID or --since, not both")
    init_db()
    if call_id:
        with session_scope() as s:
            findings = audit_and_store(s, call_id)
        typer.echo(json.dumps({"call_id": call_id, "findings": [f.as_dict() for f in findings]},
                              ensure_ascii=False, indent=2))
        return
    try:
        start = datetime.fromisoformat(since)
    except ValueError:
        raise UserError(f"--since {since!r} is not an ISO date or instant (e.g. 2025-06-01)") from None
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    by_rule: dict[str, int] = {}
    flagged = 0
    with session_scope() as s:
        ids = list(s.scalars(select(Call.id).where(Call.status == "ended", Call.ended_at >= start)
                             .order_by(Call.ended_at)))
    for cid in ids:
        with session_scope() as s:
            findings = audit_and_store(s, cid)
        flagged += bool(findings)
        for f in findings:
            by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
    typer.echo(json.dumps({"since": start.isoformat(), "calls": len(ids), "flagged": flagged,
                           "findings_by_rule": dict(sorted(by_rule.items()))}, ensure_ascii=False, indent=2))


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command("audit")(audit_cmd)

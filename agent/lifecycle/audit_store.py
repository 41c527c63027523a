"""Audit a call from the database and store the result: findings replace the previous audit's, and a
call with findings raises `call.flagged` (once per distinct set of findings)."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from agent.lifecycle.audit_rules import CallView, Finding, TurnView, audit_call
from agent.store.lifecycle_models import AuditFinding, CallAudit
from agent.store.models import Account, Call, OutboxEvent, Turn

log = logging.getLogger("dialwise.audit")


def _script(script_id: str):
    try:
        from dialogs.library import load_script

        return load_script(script_id)
    except Exception:  # noqa: BLE001 - an unknown or retired script: the text checks still run
        return None


def view_of(s: Session, call: Call) -> CallView:
    acc = s.get(Account, call.account_id)
    turns = [TurnView(t.seq, t.speaker, t.text or "", t.node, t.intent, t.confidence, t.start_ms, t.end_ms,
                      bool(t.interrupted))
             for t in s.scalars(select(Turn).where(Turn.call_id == call.id).order_by(Turn.seq))]
    return CallView(call.language, acc.jurisdiction if acc else "CN", acc.purpose if acc else "collections",
                    call.outcome, turns, _script(call.script_id))


def audit_and_store(s: Session, call_id: str) -> list[Finding]:
    call = s.get(Call, call_id)
    if call is None:
        from agent.errors import UserError

        raise UserError(f"no call with id {call_id!r}")
    findings = audit_call(view_of(s, call))
    before = {(f.rule, f.turn_seq) for f in s.scalars(select(AuditFinding).where(AuditFinding.call_id == call_id))}
    s.execute(delete(AuditFinding).where(AuditFinding.call_id == call_id))
    seen = set()
    for f in findings:
        if (f.rule, f.turn_seq) in seen:
            continue
        seen.add((f.rule, f.turn_seq))
        s.add(AuditFinding(call_id=call_id, rule=f.rule, turn_seq=f.turn_seq, severity=f.severity, detail=f.detail))
    row = s.get(CallAudit, call_id)
    if row is None:
        row = CallAudit(call_id=call_id)
        s.add(row)
    row.audited_at = datetime.now(UTC)
    row.findings = len(seen)
    if seen and seen != before:
        s.add(OutboxEvent(type="call.flagged", payload={
            "call_id": call_id, "account_id": call.account_id, "campaign_id": call.campaign_id,
            "script_id": call.script_id, "outcome": call.outcome,
            "findings": [f.as_dict() for f in findings], "transcript_url": f"/api/calls/{call_id}"}))
    s.flush()
    return findings


def audit_after_end(call_id: str, db_url: str | None = None) -> None:
    """The end-of-call hook: never lets an audit problem break the end of a call (re-run with
    `dialwise audit CALL_ID`)."""
    from agent.store import session_scope

    try:
        with session_scope(db_url) as s:
            audit_and_store(s, call_id)
    except Exception:  # noqa: BLE001
        log.warning("could not audit call %s", call_id, exc_info=True)

"""Call audits: findings (rule id, turn) of every ended call; re-audit one call."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.lifecycle.audit_rules import AUDIT_RULES
from agent.lifecycle.audit_store import audit_and_store
from agent.server.api.common import PageParams, paginate
from agent.server.api.deps import DB_SESSION, READ, WRITE
from agent.server.problems import Problem
from agent.store.lifecycle_models import AuditFinding, CallAudit
from agent.store.models import Call
from agent.timeutil import aware, iso

router = APIRouter(prefix="/api/audit", tags=["audit"])


def finding_dict(f: AuditFinding) -> dict[str, Any]:
    return {"id": f.id, "call_id": f.call_id, "rule": f.rule, "turn_seq": f.turn_seq, "severity": f.severity,
            "detail": f.detail, "created_at": iso(f.created_at)}


@router.get("/rules", summary="The audit's stable rule ids")
def rules() -> dict[str, list[str]]:
    return {"items": list(AUDIT_RULES)}


@router.get("/findings", dependencies=[READ], summary="Findings, newest first")
def list_findings(page: PageParams = Depends(), db: Session = DB_SESSION,
                  rule: str | None = Query(None, max_length=64), call_id: str | None = Query(None, max_length=32),
                  since: datetime | None = Query(None, description="ISO-8601 instant")) -> dict[str, Any]:
    if rule and rule not in AUDIT_RULES:
        raise Problem(422, f"unknown rule {rule!r}", errors=[{"field": "rule", "message": "unknown rule id"}])
    stmt = select(AuditFinding).order_by(AuditFinding.created_at.desc(), AuditFinding.id.desc())
    if rule:
        stmt = stmt.where(AuditFinding.rule == rule)
    if call_id:
        stmt = stmt.where(AuditFinding.call_id == call_id)
    if since:
        stmt = stmt.where(AuditFinding.created_at >= aware(since))
    return paginate(db, stmt, page, finding_dict)


def _call_audit(db: Session, call_id: str) -> dict[str, Any]:
    row = db.get(CallAudit, call_id)
    findings = db.scalars(select(AuditFinding).where(AuditFinding.call_id == call_id)
                          .order_by(AuditFinding.turn_seq, AuditFinding.rule)).all()
    return {"call_id": call_id, "audited_at": iso(row.audited_at) if row else None,
            "findings": [finding_dict(f) for f in findings]}


@router.get("/calls/{call_id}", dependencies=[READ], summary="One call's audit")
def get_call_audit(call_id: str, db: Session = DB_SESSION) -> dict[str, Any]:
    if db.get(Call, call_id) is None:
        raise Problem(404, f"no call with id {call_id!r}")
    return _call_audit(db, call_id)


@router.post("/calls/{call_id}", dependencies=[WRITE], summary="Audit one ended call again now")
def reaudit(call_id: str, db: Session = DB_SESSION) -> dict[str, Any]:
    call = db.get(Call, call_id)
    if call is None:
        raise Problem(404, f"no call with id {call_id!r}")
    if call.status != "ended":
        raise Problem(409, f"call {call_id} is {call.status}; only ended calls are audited")
    audit_and_store(db, call_id)
    return _call_audit(db, call_id)

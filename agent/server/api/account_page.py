"""The account page's data: why an account was (or was not) called. Its calls, dial attempts, compliance
blocks (rule id and reason), opt-outs, promises, and the gate's verdict for "could we call now?" (the
same check a dial makes: agent/campaign/plan_db.dial_for + gate_history)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from agent.server.api.call_search import CallFilters, search
from agent.server.api.deps import DB_SESSION, READ
from agent.server.api.personal import account_view, may_read_personal
from agent.server.api.schemas import AccountOut, AttemptOut
from agent.server.masking import mask_phone, mask_text
from agent.server.problems import Problem
from agent.store.lifecycle_models import Promise
from agent.store.models import Account, Attempt, ComplianceBlock, OptOut

router = APIRouter(prefix="/api/accounts", tags=["accounts"])
RECENT = 50


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).isoformat()


def gate_now(db: Session, acc: Account, at: datetime | None = None) -> dict[str, Any]:
    """Would the compliance gate let a call to this account through at `at` (default: now)?"""
    from agent.campaign.compliance import check
    from agent.campaign.plan_db import dial_for, gate_history

    when = at or datetime.now(UTC)
    verdict = check(dial_for(acc, when), gate_history(db, acc))
    return {**verdict.as_dict(), "at": when.isoformat()}


@router.get("/{account_id}/overview", dependencies=[READ],
            summary="An account's calls, attempts, compliance blocks, opt-outs, promises and the gate's verdict now")
def overview(account_id: str, request: Request, db: Session = DB_SESSION) -> dict[str, Any]:
    acc = db.get(Account, account_id)
    if acc is None:
        raise Problem(404, f"no account with id {account_id!r}")
    personal = may_read_personal(request)
    account = account_view(AccountOut.model_validate(acc).model_dump(mode="json"), personal)
    calls = search(db, CallFilters(account_id=acc.id), personal, RECENT, 0)
    attempts = db.scalars(select(Attempt).where(Attempt.account_id == acc.id)
                          .order_by(Attempt.created_at.desc()).limit(RECENT)).all()
    blocks = db.scalars(select(ComplianceBlock).where(ComplianceBlock.account_id == acc.id)
                        .order_by(ComplianceBlock.at.desc(), ComplianceBlock.id.desc()).limit(RECENT)).all()
    opt_outs = db.scalars(select(OptOut).where(or_(OptOut.account_id == acc.id, OptOut.phone == acc.phone))
                          .order_by(OptOut.created_at.desc())).all()
    promises = db.scalars(select(Promise).where(Promise.account_id == acc.id)
                          .order_by(Promise.due_date.desc()).limit(RECENT)).all()
    from agent.lifecycle.promises import promise_dict

    return {
        "account": account,
        "calls": calls["items"], "calls_total": calls["total"],
        "attempts": [AttemptOut.model_validate(a).model_dump(mode="json") for a in attempts],
        "blocks": [{"id": b.id, "rule": b.rule, "reason": b.reason if personal else mask_text(b.reason),
                    "at": _iso(b.at), "attempt_id": b.attempt_id} for b in blocks],
        "opt_outs": [{"id": o.id, "phone": o.phone if personal else mask_phone(o.phone), "scope": o.scope,
                      "channel": o.channel, "source_call_id": o.source_call_id, "at": _iso(o.created_at)}
                     for o in opt_outs],
        "promises": [promise_dict(p) for p in promises],
        "gate": gate_now(db, acc),
    }

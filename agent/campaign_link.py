"""The live campaign's view of the gate and the scripts library: database rows in, decisions out."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.store.models import Account, OptOut


def history_for(acc: Account, s: Session):
    """Everything the gate must see about this callee and this debt: one event per dial, plus
    conversations, refusals, call-backs and opt-outs (shared with the planner)."""
    from agent.campaign.plan_db import gate_history

    return gate_history(s, acc)


def proposed_dial(acc: Account, at: datetime, opted_out: bool, campaign_id: str | None = None):
    from agent.campaign.compliance import ProposedDial

    consent = acc.consent_marketing if acc.purpose == "telesales" else acc.consent_calls
    return ProposedDial(jurisdiction=acc.jurisdiction, purpose=acc.purpose, at=at, timezone=acc.timezone,
                        phone=acc.phone, debt_id=acc.id, consent=bool(consent), opted_out=opted_out,
                        region=acc.region, campaign_id=campaign_id)


def gate_allows(acc: Account, at: datetime, s: Session, campaign_id: str | None = None):
    """(allowed, rule, reason) for dialling `acc` at `at`, judged on the database's history."""
    from agent.campaign.compliance import check

    opted_out = s.scalars(select(OptOut.id).where(OptOut.phone == acc.phone)).first() is not None
    verdict = check(proposed_dial(acc, at, opted_out, campaign_id), history_for(acc, s))
    return verdict.allowed, verdict.rule, verdict.reason

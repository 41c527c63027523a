"""What the compliance gate must know from the lifecycle tables, as history events:

- a pending promise to pay: a "promise" event from when it was made until its window ends;
- a payment: a "payment" event from its time until the next `payment_missed` event (None: for good).
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.campaign.compliance.types import HistoryEvent
from agent.lifecycle.policy import promise_policy
from agent.store.lifecycle_models import CrmEvent, Promise
from agent.store.models import Account


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def payment_spans(events: list[tuple[str, datetime]]) -> list[tuple[datetime, datetime | None]]:
    """(type, at) CRM events -> (payment at, hold until) spans: each payment holds until the first
    payment_missed after it."""
    ordered = sorted(events, key=lambda e: e[1])
    spans = []
    for i, (kind, at) in enumerate(ordered):
        if kind != "payment":
            continue
        until = next((t for k, t in ordered[i + 1:] if k == "payment_missed"), None)
        spans.append((at, until))
    return spans


def lifecycle_history(s: Session, account: Account) -> list[HistoryEvent]:
    from agent.lifecycle.promises import OPEN, window_end

    policy = promise_policy()
    out = []
    for p in s.scalars(select(Promise).where(Promise.account_id == account.id, Promise.status.in_(OPEN),
                                             Promise.closed_at.is_(None))):
        out.append(HistoryEvent(_aware(p.promised_at), "promise", account.phone, account.id,
                                until=window_end(p, account, policy)))
    rows = s.execute(select(CrmEvent.type, CrmEvent.at).where(
        CrmEvent.account_id == account.id, CrmEvent.type.in_(("payment", "payment_missed")))).all()
    for at, until in payment_spans([(k, _aware(t)) for k, t in rows]):
        out.append(HistoryEvent(at, "payment", account.phone, account.id, until=until))
    return out

"""CRM events in: validated, applied once (idempotent by `id`), in `at` order.

Event: {"id", "type", "account_external_id", "amount", "currency", "at"} (+ "due_date" for
due_date_changed). Types: payment, payment_missed, due_date_changed, application_abandoned,
limit_raised. A repeat of an id with the same content gets the stored answer and changes nothing; the
same id with other content is a conflict. State-setting events (due_date_changed, limit_raised) that
arrive after a later one of the same type are recorded but do not overwrite it ("superseded"); a
payment counts toward promises by its own date, whenever it arrives; a payment holds collections
calls until a later payment_missed.
"""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from agent.store.lifecycle_models import EVENT_TYPES, CrmEvent
from agent.store.models import Account, Attempt, ComplianceBlock


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
    type: Literal["payment", "payment_missed", "due_date_changed", "application_abandoned", "limit_raised"]
    account_external_id: str = Field(min_length=1, max_length=128)
    amount: float | None = Field(None, ge=0, le=1e12, allow_inf_nan=False)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    at: datetime
    due_date: date | None = None

    @field_validator("at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None or v.utcoffset() is None:
            raise ValueError("needs a UTC offset, e.g. 2025-06-09T10:00:00+08:00")
        return v.astimezone(UTC)


    def fingerprint(self) -> str:
        body = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(body.encode()).hexdigest()


class EventConflict(Exception):
    """The id was used before for an event with other content."""


class UnknownAccount(Exception):
    pass


class EventFieldError(ValueError):
    """A field that is well-formed but wrong for this account (e.g. another currency)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = err.get("msg", "is invalid")
        if err.get("type") == "missing":
            msg = f"'{loc}' is required"
        elif loc == "body":
            msg = str(msg).removeprefix("Value error, ")
        else:
            msg = f"'{loc}': {msg}"
        out.append({"field": loc, "message": msg})
    return out


def per_type_errors(ev: EventIn) -> list[dict[str, str]]:
    """What a well-formed event still lacks for its type."""
    out = []
    if ev.type in ("payment", "limit_raised") and not ev.amount:
        out.append({"field": "amount", "message": f"'amount': a {ev.type} event needs a positive amount"})
    if ev.type == "due_date_changed" and ev.due_date is None:
        out.append({"field": "due_date", "message": "'due_date': a due_date_changed event needs it (YYYY-MM-DD)"})
    return out


class InvalidEvent(ValueError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(e["message"] for e in errors[:5]))
        self.errors = errors


def parse_event(obj: Any) -> EventIn:
    """The event, or InvalidEvent with field errors."""
    if not isinstance(obj, dict):
        raise InvalidEvent([{"field": "body", "message": "an event must be a JSON object"}])
    try:
        ev = EventIn.model_validate(obj)
    except ValidationError as exc:
        raise InvalidEvent(field_errors(exc)) from None
    errors = per_type_errors(ev)
    if errors:
        raise InvalidEvent(errors)
    return ev


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def answer_of(row: CrmEvent) -> dict[str, Any]:
    return {"id": row.id, "type": row.type, "account_id": row.account_id, "at": _aware(row.at).isoformat(),
            "received_at": _aware(row.received_at).isoformat(), "effect": row.effect}


def existing_answer(s: Session, ev: EventIn) -> dict[str, Any] | None:
    row = s.get(CrmEvent, ev.id)
    if row is None:
        return None
    if row.fingerprint != ev.fingerprint():
        raise EventConflict(f"event id {ev.id!r} was already used for a different event; use a new id")
    return answer_of(row)


def _newest_at(s: Session, account_id: str, kind: str) -> datetime | None:
    t = s.scalar(select(func.max(CrmEvent.at)).where(CrmEvent.account_id == account_id, CrmEvent.type == kind))
    return _aware(t) if t else None


def _hold_queued_collections(s: Session, acc: Account, event_id: str) -> list[str]:
    """A payment takes the account out of collections at once: queued collections attempts are closed."""
    if acc.purpose != "collections":
        return []
    ids = list(s.scalars(select(Attempt.id).where(Attempt.account_id == acc.id,
                                                  Attempt.status.in_(("planned", "claimed")))))
    if ids:
        now = datetime.now(UTC)
        s.execute(update(Attempt).where(Attempt.id.in_(ids), Attempt.status.in_(("planned", "claimed")))
                  .values(status="blocked", result="blocked", blocked_rule="payment_received", finished_at=now))
        for attempt_id in ids:
            s.add(ComplianceBlock(account_id=acc.id, attempt_id=attempt_id, rule="payment_received",
                                  reason=f"payment event {event_id} took the account out of collections"))
    return ids


def apply_event(s: Session, ev: EventIn, *, now: datetime | None = None) -> dict[str, Any]:
    """Apply one event in the caller's transaction; returns the answer (stored with the event).
    Raises UnknownAccount, EventConflict."""
    from agent.lifecycle.promises import apply_payment
    from agent.lifecycle.touches import touch_for_event

    known = existing_answer(s, ev)
    if known is not None:
        return known
    acc = s.scalars(select(Account).where(Account.external_id == ev.account_external_id)).first()
    if acc is None:
        raise UnknownAccount(f"no account with external id {ev.account_external_id!r}")
    if ev.currency and ev.amount is not None and ev.type == "payment" and ev.currency != acc.currency:
        raise EventFieldError("currency", f"'currency': {ev.currency} does not match the account's {acc.currency}")
    effect: dict[str, Any] = {"applied": True}
    newest = _newest_at(s, acc.id, ev.type)
    if ev.type == "payment":
        acc.balance = round(max(0.0, acc.balance - float(ev.amount or 0)), 2)
        paid_day = ev.at.date()
        acc.last_payment_date = max(acc.last_payment_date or paid_day, paid_day)
        effect["balance"] = acc.balance
        effect["promises"] = apply_payment(s, acc, float(ev.amount or 0), ev.at, ev.id)
        effect["cancelled_attempts"] = _hold_queued_collections(s, acc, ev.id)
    elif ev.type in ("due_date_changed", "limit_raised"):
        if newest is not None and newest > ev.at:
            effect = {"applied": False, "superseded_by_event_at": newest.isoformat()}
        elif ev.type == "due_date_changed":
            acc.due_date = ev.due_date
            effect["due_date"] = ev.due_date.isoformat()
        else:
            acc.credit_limit = float(ev.amount or 0)
            effect["credit_limit"] = acc.credit_limit
    touch = touch_for_event(s, acc, ev, now=now)
    if touch is not None:
        effect["touch"] = touch
    s.add(CrmEvent(id=ev.id, type=ev.type, account_id=acc.id, account_external_id=ev.account_external_id,
                   amount=ev.amount, currency=ev.currency, due_date=ev.due_date, at=ev.at,
                   fingerprint=ev.fingerprint(), effect=effect))
    s.flush()
    return answer_of(s.get(CrmEvent, ev.id))


def in_at_order(events: list[EventIn]) -> list[EventIn]:
    return sorted(events, key=lambda e: (e.at, e.id))


assert set(EVENT_TYPES) == set(EventIn.model_fields["type"].annotation.__args__)

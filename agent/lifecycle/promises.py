"""Promises to pay as records: created from `ptp` outcomes, matched to payments, swept when broken.

A payment counts toward a promise when it is dated (account-local) from the day the promise was made
to `grace_days` after its due date; several payments add up. Enough paid (within the tolerance):
kept; some: partially_kept; nothing by the end of the window: broken (the daily sweep). A payment
that arrives late but is dated inside the window turns a broken promise into a kept one. A newer
promise cancels a pending older one. Every change to kept or broken writes an outbox event in the
same transaction (webhooks `promise.kept`, `promise.broken`).
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from agent.lifecycle.policy import PromisePolicy, promise_policy
from agent.store.lifecycle_models import Promise
from agent.store.models import Account, Call, OutboxEvent, Outcome

OPEN = ("pending", "partially_kept")
MATCHABLE = ("pending", "partially_kept", "broken")


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def local_date(at: datetime, tz: str) -> date:
    try:
        return _aware(at).astimezone(ZoneInfo(tz)).date()
    except Exception:  # noqa: BLE001 - an unknown zone: UTC
        return _aware(at).date()


def window_end(p: Promise, acc: Account, policy: PromisePolicy) -> datetime:
    """The first instant after the promise's window (the end of its last grace day, account-local)."""
    last = p.due_date + timedelta(days=policy.grace_days + 1)
    try:
        tz = ZoneInfo(acc.timezone)
    except Exception:  # noqa: BLE001
        tz = UTC
    return datetime.combine(last, time(0), tzinfo=tz).astimezone(UTC)


def promise_dict(p: Promise) -> dict:
    return {"id": p.id, "account_id": p.account_id, "call_id": p.call_id, "amount": p.amount,
            "currency": p.currency, "due_date": p.due_date.isoformat(), "status": p.status,
            "paid_amount": round(p.paid_amount, 2), "promised_at": _aware(p.promised_at).isoformat(),
            "closed_at": _aware(p.closed_at).isoformat() if p.closed_at else None, "reason": p.reason}


def _emit(s: Session, kind: str, p: Promise, **extra) -> None:
    s.add(OutboxEvent(type=kind, payload={**promise_dict(p), **extra}))


def create_from_outcome(
    s: Session, call: Call, outcome: Outcome, policy: PromisePolicy | None = None
) -> Promise | None:
    """The Promise of a `ptp` outcome (in the caller's transaction); None for other outcomes."""
    if outcome.kind != "ptp":
        return None
    policy = policy or promise_policy()
    acc = s.get(Account, call.account_id)
    made = _aware(call.ended_at or datetime.now(UTC))
    due = outcome.promise_date or (local_date(made, acc.timezone) + timedelta(days=policy.default_days))
    amount = outcome.promise_amount if outcome.promise_amount and outcome.promise_amount > 0 else acc.balance
    for old in s.scalars(select(Promise).where(Promise.account_id == acc.id, Promise.status.in_(OPEN))):
        old.status = "cancelled" if old.status == "pending" else old.status
        old.closed_at = made
        old.reason = f"superseded by the promise of call {call.id}"
    p = Promise(account_id=acc.id, call_id=call.id, amount=float(amount), currency=acc.currency, due_date=due,
                status="pending", promised_at=made)
    s.add(p)
    s.flush()
    return p


def apply_payment(s: Session, acc: Account, amount: float, at: datetime, event_id: str,
                  policy: PromisePolicy | None = None) -> list[dict]:
    """Match one payment to the account's promises (oldest due first); returns what changed."""
    policy = policy or promise_policy()
    paid_day = local_date(at, acc.timezone)
    left = float(amount)
    changes = []
    rows = s.scalars(select(Promise).where(Promise.account_id == acc.id, Promise.status.in_(MATCHABLE))
                     .order_by(Promise.due_date, Promise.promised_at, Promise.id)).all()
    for p in rows:
        if left <= 0:
            break
        if not (local_date(p.promised_at, acc.timezone) <= paid_day <= p.due_date + timedelta(days=policy.grace_days)):
            continue
        need = max(p.amount - p.paid_amount, 0.0)
        take = min(left, need) if need > 0 else 0.0
        if take <= 0:
            continue
        before = p.status
        p.paid_amount = round(p.paid_amount + take, 2)
        left -= take
        if policy.kept(p.paid_amount, p.amount):
            p.status, p.closed_at, p.reason = "kept", _aware(at), f"paid by event {event_id}"
            _emit(s, "promise.kept", p, previous_status=before)
        elif before in ("pending", "broken"):
            p.status = "partially_kept"
        changes.append({"promise_id": p.id, "from": before, "to": p.status, "applied": round(take, 2)})
    return changes


def sweep(s: Session, now: datetime | None = None, policy: PromisePolicy | None = None) -> list[dict]:
    """Close every open promise whose window has passed: pending -> broken, partially_kept stays so."""
    policy = policy or promise_policy()
    now = _aware(now or datetime.now(UTC))
    horizon = (now + timedelta(days=1)).date() - timedelta(days=policy.grace_days + 1)
    changes = []
    rows = s.execute(select(Promise, Account).join(Account, Account.id == Promise.account_id)
                     .where(Promise.status.in_(OPEN), Promise.closed_at.is_(None), Promise.due_date <= horizon)
                     .order_by(Promise.due_date, Promise.id)
                     .with_for_update(of=Promise, skip_locked=True)).all()  # PostgreSQL: one sweeper per row
    for p, acc in rows:
        if now < window_end(p, acc, policy):
            continue
        before = p.status
        if before == "pending":
            status, reason = "broken", f"nothing paid by {p.due_date + timedelta(days=policy.grace_days)}"
        else:
            status, reason = before, f"{p.paid_amount:.2f} of {p.amount:.2f} paid by the end of the grace days"
        # conditional: of several sweepers (workers; SQLite reads outside the write lock) one closes it
        won = s.execute(update(Promise).where(Promise.id == p.id, Promise.status == before, Promise.closed_at.is_(None))
                        .values(status=status, reason=reason, closed_at=now)).rowcount
        if not won:
            continue
        if status == "broken":
            _emit(s, "promise.broken", p)
        changes.append({"promise_id": p.id, "from": before, "to": p.status})
    return changes


def pending_promise(s: Session, account_id: str) -> Promise | None:
    return s.scalars(select(Promise).where(Promise.account_id == account_id, Promise.status.in_(OPEN),
                                           Promise.closed_at.is_(None))
                     .order_by(Promise.promised_at.desc(), Promise.id).limit(1)).first()


def latest_promise(account: Account) -> Promise | None:
    """The account's latest promise that is not cancelled (what follow-up scripts speak of)."""
    from sqlalchemy.orm import object_session

    s = object_session(account)
    if s is None:
        return None
    return s.scalars(select(Promise).where(Promise.account_id == account.id, Promise.status != "cancelled")
                     .order_by(Promise.promised_at.desc(), Promise.id).limit(1)).first()

"""Webhook subscriptions, deliveries and re-sending."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.server.api.common import PageParams, paginate
from agent.server.api.deps import CRM, DB_SESSION, READ
from agent.server.api.schemas import DeliveryOut, Page, SubscriptionIn, SubscriptionOut
from agent.server.problems import Problem
from agent.server.webhooks import (
    EVENT_TYPES,
    FIXED_ERRORS,
    REFUSED,
    _types_of,
    create_subscription,
    failure_reason,
    redeliver,
)
from agent.store.models import OutboxEvent, WebhookDelivery, WebhookSubscription

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])


def _sub_out(sub: WebhookSubscription, secret: bool = False) -> dict[str, Any]:
    return {"id": sub.id, "url": sub.url, "event_types": _types_of(sub), "active": sub.active,
            "created_at": sub.created_at, "secret": sub.secret if secret else None}


@router.get("/event-types", summary="Event types one can subscribe to")
def event_types() -> dict[str, list[str]]:
    return {"items": list(EVENT_TYPES)}


@router.post("/subscriptions", status_code=201, response_model=SubscriptionOut, dependencies=[CRM],
             summary="Subscribe a URL to event types; the signing secret is shown once")
def subscribe(body: SubscriptionIn, db: Session = DB_SESSION) -> dict[str, Any]:
    sub = create_subscription(db, body.url, body.event_types)
    return _sub_out(sub, secret=True)


@router.get("/subscriptions", response_model=Page[SubscriptionOut], dependencies=[READ],
            summary="List subscriptions")
def list_subscriptions(page: PageParams = Depends(), db: Session = DB_SESSION) -> dict[str, Any]:
    stmt = select(WebhookSubscription).order_by(WebhookSubscription.created_at.desc(),
                                                WebhookSubscription.id)
    return paginate(db, stmt, page, _sub_out)


@router.delete("/subscriptions/{subscription_id}", status_code=204, dependencies=[CRM],
               summary="Stop a subscription (pending deliveries become dead)")
def unsubscribe(subscription_id: str, db: Session = DB_SESSION) -> None:
    sub = db.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise Problem(404, f"no subscription with id {subscription_id!r}")
    sub.active = False


def _delivery_out(row: Any) -> dict[str, Any]:
    delivery, event_type = row
    out = DeliveryOut.model_validate(delivery).model_dump()
    out["event_type"] = event_type
    out["last_error"] = public_error(out.get("last_error"))
    return out


def public_error(error: str | None) -> str | None:
    """Rows written before receivers' bodies were dropped: keep the status, drop the rest."""
    if not error or error.startswith((REFUSED, "subscription removed")) or error in FIXED_ERRORS:
        return error
    if error.startswith("HTTP "):
        code = error[5:].split(":", 1)[0].strip()
        return failure_reason(int(code)) if code.isdigit() else "the receiver refused the delivery"
    return "the receiver could not be reached"


@router.get("/deliveries", response_model=Page[DeliveryOut], dependencies=[READ],
            summary="List deliveries, newest first")
def list_deliveries(page: PageParams = Depends(), db: Session = DB_SESSION,
                    status: str | None = Query(None, pattern="^(pending|delivered|dead)$"),
                    subscription_id: str | None = Query(None, max_length=32),
                    event_id: str | None = Query(None, max_length=32)) -> dict[str, Any]:
    stmt = (select(WebhookDelivery, OutboxEvent.type)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id))
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    if subscription_id:
        stmt = stmt.where(WebhookDelivery.subscription_id == subscription_id)
    if event_id:
        stmt = stmt.where(WebhookDelivery.event_id == event_id)
    from sqlalchemy import func

    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.execute(stmt.limit(page.limit).offset(page.offset)).all()
    end = page.offset + len(rows)
    return {"items": [_delivery_out(r) for r in rows], "total": total, "limit": page.limit,
            "offset": page.offset, "next_offset": end if end < total else None}


@router.post("/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut, dependencies=[CRM],
             summary="Send a delivery again now")
def redeliver_one(delivery_id: str, db: Session = DB_SESSION) -> dict[str, Any]:
    row = redeliver(db, delivery_id)
    if row is None:
        raise Problem(404, f"no delivery with id {delivery_id!r}")
    db.flush()
    event = db.get(OutboxEvent, row.event_id)
    return _delivery_out((row, event.type if event else None))

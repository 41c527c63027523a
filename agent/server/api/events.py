"""CRM events in: `POST /api/events` (crm scope), idempotent by the event's id."""
from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from agent.lifecycle.events import (
    EventConflict,
    EventFieldError,
    InvalidEvent,
    UnknownAccount,
    answer_of,
    apply_event,
    existing_answer,
    parse_event,
)
from agent.server.api.common import PageParams, paginate
from agent.server.api.deps import CRM, DB_SESSION, READ
from agent.server.problems import Problem
from agent.store.db import session_scope
from agent.store.lifecycle_models import CrmEvent

router = APIRouter(prefix="/api/events", tags=["events"])
MAX_BODY = 16_384


@router.post("", dependencies=[CRM], summary="Send one CRM event (payment, payment_missed, due_date_changed, "
             "application_abandoned, limit_raised); a repeat of its id changes nothing and gets the same answer",
             responses={200: {"description": "applied (or already applied: same answer)"},
                        404: {"description": "unknown account"}, 409: {"description": "id reused"},
                        422: {"description": "field errors"}})
async def post_event(request: Request) -> JSONResponse:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Problem(413, f"an event is at most {MAX_BODY} bytes")
    try:
        obj = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Problem(422, f"the request body is not valid JSON: {exc}",
                      errors=[{"field": "body", "message": "not valid JSON"}]) from None
    try:
        ev = parse_event(obj)
    except InvalidEvent as exc:
        raise Problem(422, str(exc), errors=exc.errors) from None
    try:
        answer, replayed = await run_in_threadpool(_apply_with_retries, request.app.state.db_url, ev)
    except UnknownAccount as exc:
        raise Problem(404, str(exc)) from None
    except EventConflict as exc:
        raise Problem(409, str(exc)) from None
    except EventFieldError as exc:
        raise Problem(422, str(exc), errors=[{"field": exc.field, "message": str(exc)}]) from None
    return JSONResponse(answer, headers={"Idempotent-Replayed": "true"} if replayed else None)


def _apply_with_retries(db_url: str, ev) -> tuple[dict[str, Any], bool]:
    """Apply in its own transaction. The same id applied at the same moment by another request loses
    on the primary key and answers with the stored result; a busy SQLite file is retried."""
    for attempt in range(6):
        try:
            with session_scope(db_url) as s:
                replay = existing_answer(s, ev)
                if replay is not None:
                    return replay, True
                answer = apply_event(s, ev)
            return answer, False
        except IntegrityError:
            if attempt == 5:
                raise
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == 5:
                raise
            time.sleep(0.05 * 2 ** attempt)
    raise RuntimeError("unreachable")


@router.get("", dependencies=[READ], summary="Events received, newest first")
def list_events(page: PageParams = Depends(), db: Session = DB_SESSION,
                account_id: str | None = Query(None, max_length=32),
                type: str | None = Query(None, pattern="^(payment|payment_missed|due_date_changed|"
                                         "application_abandoned|limit_raised)$")) -> dict[str, Any]:
    stmt = select(CrmEvent).order_by(CrmEvent.at.desc(), CrmEvent.id)
    if account_id:
        stmt = stmt.where(CrmEvent.account_id == account_id)
    if type:
        stmt = stmt.where(CrmEvent.type == type)
    return paginate(db, stmt, page, answer_of)


@router.get("/{event_id}", dependencies=[READ], summary="One event and what applying it did")
def get_event(event_id: str, db: Session = DB_SESSION) -> dict[str, Any]:
    row = db.get(CrmEvent, event_id)
    if row is None:
        raise Problem(404, f"no event with id {event_id!r}")
    return answer_of(row)

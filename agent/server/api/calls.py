"""Calls: create (or dry-run), list with filters and transcript search, get with turns,
the recording (HTTP range requests) and its waveform peaks."""
from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from agent.dialing.base import CONNECT_NETWORKS
from agent.dialing.place import DialBlocked, dry_run_call, start_call
from agent.errors import UserError
from agent.id_masking import mask_slots, mask_turn
from agent.server.api.call_search import SORT_PATTERN, CallFilters, search
from agent.server.api.common import PageParams
from agent.server.api.deps import DB_SESSION, PERSONAL, READ, WRITE
from agent.server.api.personal import may_read_personal, name_view
from agent.server.api.schemas import CallCreate, CallDetail, CallOut, OutcomeOut, Page, TurnOut
from agent.server.masking import mask_phone
from agent.server.problems import Problem
from agent.store.models import Account, Call, Campaign, Outcome
from agent.store.review_models import CallReview
from telephony_adapter.twilio import stream_twiml

router = APIRouter(prefix="/api/calls", tags=["calls"])


def resolve_recording(path: str | None) -> Path | None:
    if not path:
        return None
    from agent.config import PROJECT_ROOT, get_settings

    p = Path(path)
    candidates = [p] if p.is_absolute() else [get_settings().var_dir / p, Path.cwd() / p, PROJECT_ROOT / p]
    for c in candidates:
        if c.is_file():
            return c
    return None


def call_out(call: Call) -> dict[str, Any]:
    out = CallOut.model_validate(call).model_dump()
    out["has_recording"] = bool(call.recording_path)
    return out


@router.post("", status_code=201, dependencies=[WRITE], summary="Place a call (or a dry run), through the gate",
             responses={409: {"description": "the compliance gate refused the dial; `rule` names the rule"}})
async def create_call(body: CallCreate, request: Request) -> dict[str, Any]:
    """Every call passes the compliance gate first (a refusal is recorded with its rule and answered 409).
    A real call rings in the background: 201 {"call_id", "status": "dialing"}. A dry run dials nothing:
    201 {"call_id", "status": "dry_run", "twiml"} (the TwiML for Twilio)."""
    url = request.app.state.db_url
    try:
        if body.dry_run:
            call_id = await asyncio.to_thread(dry_run_call, body.account_id, body.script_id, body.transport,
                                              db_url=url)
            out: dict[str, Any] = {"call_id": call_id, "status": "dry_run"}
            if body.transport == "twilio":
                out["twiml"] = stream_twiml(call_id, request.app.state.public_base_url)
            return out
        prep = await asyncio.to_thread(start_call, body.account_id, body.script_id, body.transport, db_url=url)
    except DialBlocked as exc:
        raise Problem(409, str(exc), title="Blocked by the compliance gate", rule=exc.rule) from None
    except UserError as exc:
        status = 404 if str(exc).startswith("no account") else 422
        raise Problem(status, str(exc)) from None
    if body.transport in CONNECT_NETWORKS:  # the softphone or Asterisk connects to this call
        return {"call_id": prep.call_id, "status": "awaiting_connection"}
    request.app.state.worker.submit(prep)
    return {"call_id": prep.call_id, "status": "dialing"}


def call_filters(
    date_from: date | None = Query(None, description="calls started on or after this day (in `tz`)"),
    date_to: date | None = Query(None, description="calls started on or before this day (in `tz`)"),
    tz: str = Query("UTC", max_length=64, description="IANA zone the days are counted in (the viewer's)"),
    outcome: str | None = Query(None, max_length=32, description="one of GET /api/vocab `outcomes`"),
    campaign_id: str | None = Query(None, max_length=32),
    account_id: str | None = Query(None, max_length=32),
    script_id: str | None = Query(None, max_length=64),
    language: str | None = Query(None, pattern="^(zh|en)$"),
    status: str | None = Query(None, pattern="^(created|live|ended)$"),
    q: str | None = Query(None, min_length=1, max_length=200, description="text said in the call"),
    find: str | None = Query(None, max_length=100, description="the callee's phone (any formatting), name or "
                             "account external id, or a call id (or its first 6+ characters); keys without "
                             "personal-data access match ids only"),
    reviewed: bool | None = Query(None, description="only reviewed (true) or unreviewed (false) calls"),
    sort: str = Query("-started_at", pattern=SORT_PATTERN, description="started_at, duration, outcome, "
                      "promise_amount or account; a leading - sorts descending"),
) -> CallFilters:
    return CallFilters(date_from=date_from, date_to=date_to, tz=tz, outcome=outcome, campaign_id=campaign_id,
                       account_id=account_id, script_id=script_id, language=language, status=status, text=q,
                       find=find, reviewed=reviewed, sort=sort)


@router.get("", response_model=Page[CallOut], dependencies=[READ], summary="List, find and sort calls")
def list_calls(request: Request, page: PageParams = Depends(), db: Session = DB_SESSION,
               filters: CallFilters = Depends(call_filters)) -> dict[str, Any]:
    return search(db, filters, may_read_personal(request), page.limit, page.offset)


@router.get("/{call_id}", response_model=CallDetail, dependencies=[READ], summary="One call with its turns")
def get_call(call_id: str, request: Request, db: Session = DB_SESSION) -> dict[str, Any]:
    call = db.scalar(select(Call).options(selectinload(Call.turns)).where(Call.id == call_id))
    if call is None:
        raise Problem(404, f"no call with id {call_id!r}")
    out = call_out(call)
    out["slots"] = mask_slots(call.slots)
    out["turns"] = [mask_turn(TurnOut.model_validate(t).model_dump()) for t in call.turns]
    oc = db.scalar(select(Outcome).where(Outcome.call_id == call_id))
    out["outcome_detail"] = OutcomeOut.model_validate(oc).model_dump() if oc else None
    acc = db.get(Account, call.account_id)
    personal = may_read_personal(request)
    out["account_name"] = name_view(acc.name, personal) if acc else None
    if acc is not None:
        out.update(account_phone=acc.phone if personal else mask_phone(acc.phone), account_timezone=acc.timezone,
                   account_external_id=acc.external_id, currency=acc.currency)
    camp = db.get(Campaign, call.campaign_id) if call.campaign_id else None
    out["campaign_name"] = camp.name if camp else None
    if call.started_at and call.ended_at:
        out["duration_ms"] = int((call.ended_at - call.started_at).total_seconds() * 1000)
    review = db.get(CallReview, call_id)
    out["outcome_original"] = review.outcome_original if review else None
    out["review_score"] = review.score if review else None
    return out


def _recording_file(db: Session, call_id: str) -> Path:
    call = db.get(Call, call_id)
    if call is None:
        raise Problem(404, f"no call with id {call_id!r}")
    path = resolve_recording(call.recording_path)
    if path is None:
        raise Problem(404, f"call {call_id} has no recording on this server")
    return path


@router.get("/{call_id}/recording", dependencies=[PERSONAL], summary="The stereo WAV (range requests)",
            response_class=FileResponse,
            responses={200: {"content": {"audio/wav": {}}}, 206: {"description": "partial content"}})
def get_recording(call_id: str, db: Session = DB_SESSION,
                  download: bool = Query(False, description="as an attachment (a download), not inline")
                  ) -> FileResponse:
    path = _recording_file(db, call_id)
    return FileResponse(path, media_type="audio/wav", filename=f"call-{call_id}.wav",
                        content_disposition_type="attachment" if download else "inline")


@router.get("/{call_id}/waveform", dependencies=[PERSONAL], summary="Peak envelope per channel for drawing")
def get_waveform(call_id: str, points: int = Query(600, ge=10, le=4000),
                 db: Session = DB_SESSION) -> dict[str, Any]:
    from agent.server.waveform import peaks

    path = _recording_file(db, call_id)
    try:
        return peaks(path, points)
    except ValueError as exc:
        raise Problem(422, f"the recording cannot be read: {exc}") from None

"""Campaigns: create, list, get, start, pause and the dashboard figures."""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent import campaign_control as control
from agent.campaign_control import CampaignConflict, CampaignNotFound
from agent.errors import UserError
from agent.server.api.common import PageParams, paginate
from agent.server.api.deps import DB_SESSION, READ, WRITE
from agent.server.api.schemas import AttemptOut, CampaignIn, CampaignOut, CampaignPatch, Created, Page
from agent.server.problems import Problem
from agent.server.stats import campaign_stats
from agent.store.models import Attempt, Campaign

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])


def _problem(exc: UserError) -> Problem:
    if isinstance(exc, CampaignNotFound):
        return Problem(404, str(exc))
    if isinstance(exc, CampaignConflict):
        return Problem(409, str(exc))
    return Problem(422, str(exc))


@router.post("", status_code=201, response_model=Created, dependencies=[WRITE], summary="Create a campaign")
def create_campaign(body: CampaignIn, db: Session = DB_SESSION) -> Created:
    if body.account_ids and not body.script_id:
        raise Problem(422, "'script_id' is required when 'account_ids' are given",
                      errors=[{"field": "script_id", "message": "required with account_ids"}])
    try:
        camp = control.create_campaign(db, **body.model_dump())
    except UserError as exc:
        raise _problem(exc) from None
    return Created(id=camp.id)


@router.get("", response_model=Page[CampaignOut], dependencies=[READ], summary="List campaigns")
def list_campaigns(page: PageParams = Depends(), db: Session = DB_SESSION) -> dict[str, Any]:
    stmt = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id)
    return paginate(db, stmt, page, CampaignOut.model_validate)


def _get(db: Session, campaign_id: str) -> Campaign:
    try:
        return control.get_campaign(db, campaign_id)
    except UserError as exc:
        raise _problem(exc) from None


@router.get("/{campaign_id}", response_model=CampaignOut, dependencies=[READ], summary="One campaign")
def get_campaign(campaign_id: str, db: Session = DB_SESSION) -> Campaign:
    return _get(db, campaign_id)


def _move(db: Session, campaign_id: str, action: str) -> Campaign:
    try:
        return control.move_campaign(db, campaign_id, action)
    except UserError as exc:
        raise _problem(exc) from None


@router.post("/{campaign_id}/start", response_model=CampaignOut, dependencies=[WRITE],
             summary="Start or resume dialling")
def start_campaign(campaign_id: str, db: Session = DB_SESSION) -> Campaign:
    return _move(db, campaign_id, "start")


@router.post("/{campaign_id}/pause", response_model=CampaignOut, dependencies=[WRITE],
             summary="Pause dialling (calls in progress finish)")
def pause_campaign(campaign_id: str, db: Session = DB_SESSION) -> Campaign:
    return _move(db, campaign_id, "pause")


@router.patch("/{campaign_id}", response_model=CampaignOut, dependencies=[WRITE],
              summary="Change a campaign's limits or network (workers see it within 2 s)")
def patch_campaign(campaign_id: str, body: CampaignPatch, db: Session = DB_SESSION) -> Campaign:
    try:
        return control.change_campaign(db, campaign_id, **body.model_dump(exclude_unset=True))
    except UserError as exc:
        raise _problem(exc) from None


@router.get("/{campaign_id}/attempts", response_model=Page[AttemptOut], dependencies=[READ],
            summary="The campaign's attempts: planned, dialling, done, blocked (with the rule)")
def list_attempts(campaign_id: str, page: PageParams = Depends(), db: Session = DB_SESSION,
                  status: str | None = Query(None, pattern="^(planned|claimed|dialing|done|failed|blocked)$"),
                  account_id: str | None = Query(None, max_length=32)) -> dict[str, Any]:
    _get(db, campaign_id)
    stmt = select(Attempt).where(Attempt.campaign_id == campaign_id).order_by(Attempt.created_at, Attempt.id)
    if status:
        stmt = stmt.where(Attempt.status == status)
    if account_id:
        stmt = stmt.where(Attempt.account_id == account_id)
    return paginate(db, stmt, page, AttemptOut.model_validate)


@router.get("/{campaign_id}/stats", dependencies=[READ], summary="Funnel, outcomes by variant and hour")
def get_stats(campaign_id: str, db: Session = DB_SESSION) -> dict[str, Any]:
    _get(db, campaign_id)
    return campaign_stats(db, campaign_id)


@router.get("/{campaign_id}/funnel", dependencies=[READ],
            summary="Funnel dialled → connected → right party → promise → kept by variant, segment or local hour, "
                    "with each step's conversion (95 % Wilson intervals), cost per kept promise and A/B comparisons")
def get_funnel(campaign_id: str, db: Session = DB_SESSION,
               by: str = Query("variant", pattern="^(variant|segment|hour)$",
                               description="variant | segment (bucket · product · language) | hour (callee-local)"),
               since: date | None = Query(None, description="only dials on or after this day (YYYY-MM-DD, UTC)")
               ) -> dict[str, Any]:
    from agent.campaign.funnel import funnel_report

    _get(db, campaign_id)
    start = datetime.combine(since, datetime.min.time(), tzinfo=UTC) if since else None
    return funnel_report(db, campaign_id, start, by=(by,))

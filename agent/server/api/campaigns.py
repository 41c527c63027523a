"""Campaigns: create, list, get, start, pause and the dashboard figures."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent.server.api.common import PageParams, paginate
from agent.server.api.deps import READ, WRITE, get_db
from agent.server.api.schemas import AttemptOut, CampaignIn, CampaignOut, CampaignPatch, Created, Page
from agent.server.problems import Problem
from agent.server.stats import campaign_stats
from agent.store.models import Account, Attempt, Campaign

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])

# allowed status moves: from -> to
_MOVES = {"start": ({"draft", "paused"}, "running"), "pause": ({"running"}, "paused")}


@router.post("", status_code=201, response_model=Created, dependencies=[WRITE], summary="Create a campaign")
def create_campaign(body: CampaignIn, db: Session = Depends(get_db)) -> Created:
    if body.account_ids and not body.script_id:
        raise Problem(422, "'script_id' is required when 'account_ids' are given",
                      errors=[{"field": "script_id", "message": "required with account_ids"}])
    settings: dict[str, Any] = {"schedule": body.schedule}
    if body.script_id:
        settings["script_id"] = body.script_id
    camp = Campaign(name=body.name, purpose=body.purpose, max_concurrent=body.max_concurrent,
                    max_attempts=body.max_attempts, voicemail_policy=body.voicemail_policy,
                    network=body.network, settings=settings)
    db.add(camp)
    db.flush()
    if body.account_ids:
        ids = list(dict.fromkeys(body.account_ids))
        found = dict(db.execute(select(Account.id, Account.phone).where(Account.id.in_(ids))).all())
        missing = [i for i in ids if i not in found]
        if missing:
            raise Problem(422, f"unknown account id(s): {', '.join(missing[:5])}"
                          + (" ..." if len(missing) > 5 else ""))
        if body.schedule == "planner":  # the planner gives each account its slot when the campaign starts
            camp.settings = {**settings, "accounts": ids}
        else:  # due as soon as the campaign starts (the gate and the limits still apply at each dial)
            now = datetime.now(timezone.utc)
            db.add_all(Attempt(campaign_id=camp.id, account_id=i, script_id=body.script_id,
                               phone=found[i], not_before=now) for i in ids)
    return Created(id=camp.id)


@router.get("", response_model=Page[CampaignOut], dependencies=[READ], summary="List campaigns")
def list_campaigns(page: PageParams = Depends(), db: Session = Depends(get_db)) -> dict[str, Any]:
    stmt = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id)
    return paginate(db, stmt, page, CampaignOut.model_validate)


def _get(db: Session, campaign_id: str) -> Campaign:
    camp = db.get(Campaign, campaign_id)
    if camp is None:
        raise Problem(404, f"no campaign with id {campaign_id!r}")
    return camp


@router.get("/{campaign_id}", response_model=CampaignOut, dependencies=[READ], summary="One campaign")
def get_campaign(campaign_id: str, db: Session = Depends(get_db)) -> Campaign:
    return _get(db, campaign_id)


def _move(db: Session, campaign_id: str, action: str) -> Campaign:
    camp = _get(db, campaign_id)
    allowed, target = _MOVES[action]
    if camp.status == target:
        return camp
    if camp.status not in allowed:
        raise Problem(409, f"cannot {action} a campaign that is {camp.status}")
    camp.status = target
    if action == "start" and (camp.settings or {}).get("schedule") == "planner":
        pending = db.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.campaign_id == camp.id, Attempt.status.in_(("planned", "claimed", "dialing")))) or 0
        if not pending:
            from agent.campaign.plan_db import plan_campaign_day

            db.flush()
            plan_campaign_day(db, camp.id, date.today(), capacity=10_000, account_ids=camp.settings.get("accounts"))
    return camp


@router.post("/{campaign_id}/start", response_model=CampaignOut, dependencies=[WRITE],
             summary="Start or resume dialling")
def start_campaign(campaign_id: str, db: Session = Depends(get_db)) -> Campaign:
    return _move(db, campaign_id, "start")


@router.post("/{campaign_id}/pause", response_model=CampaignOut, dependencies=[WRITE],
             summary="Pause dialling (calls in progress finish)")
def pause_campaign(campaign_id: str, db: Session = Depends(get_db)) -> Campaign:
    return _move(db, campaign_id, "pause")


@router.patch("/{campaign_id}", response_model=CampaignOut, dependencies=[WRITE],
              summary="Change a campaign's limits or network (workers see it within 2 s)")
def patch_campaign(campaign_id: str, body: CampaignPatch, db: Session = Depends(get_db)) -> Campaign:
    camp = _get(db, campaign_id)
    for key, value in body.model_dump(exclude_unset=True).items():
        if value is None and key != "network":
            raise Problem(422, f"'{key}' cannot be null", errors=[{"field": key, "message": "null"}])
        setattr(camp, key, value)
    return camp


@router.get("/{campaign_id}/attempts", response_model=Page[AttemptOut], dependencies=[READ],
            summary="The campaign's attempts: planned, dialling, done, blocked (with the rule)")
def list_attempts(campaign_id: str, page: PageParams = Depends(), db: Session = Depends(get_db),
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
def get_stats(campaign_id: str, db: Session = Depends(get_db)) -> dict[str, Any]:
    _get(db, campaign_id)
    return campaign_stats(db, campaign_id)

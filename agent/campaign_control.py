"""Creating and steering campaigns: one set of rules for the API, the CLI and the console.

Workers read a campaign's status, network and `max_concurrent` at each dial, so a change here is
seen by every worker within its next poll (about 1 s)."""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent.dialing.place import check_network
from agent.errors import UserError
from agent.store.models import Account, Attempt, Campaign

# allowed status moves: action -> (from, to)
MOVES = {"start": ({"draft", "paused"}, "running"), "pause": ({"running"}, "paused")}
SCHEDULES = ("now", "planner")


class CampaignNotFound(UserError):
    pass


class CampaignConflict(UserError):
    pass


def get_campaign(s: Session, campaign_id: str) -> Campaign:
    camp = s.get(Campaign, campaign_id)
    if camp is None:
        raise CampaignNotFound(f"no campaign with id {campaign_id!r}")
    return camp


def create_campaign(s: Session, *, name: str, purpose: str = "collections", max_concurrent: int = 4,
                    max_attempts: int = 3, voicemail_policy: str = "leave", network: str | None = None,
                    script_id: str | None = None, account_ids: list[str] | None = None,
                    schedule: str = "now") -> Campaign:
    """A draft campaign. `account_ids` with schedule "now" are due as soon as it starts (the gate and
    the limits still apply at each dial); with "planner" the planner gives each its slot at start."""
    if network is not None:
        check_network(network)
    if schedule not in SCHEDULES:
        raise UserError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")
    if account_ids and not script_id:
        raise UserError("'script_id' is required when 'account_ids' are given")
    settings: dict[str, Any] = {"schedule": schedule}
    if script_id:
        settings["script_id"] = script_id
    camp = Campaign(name=name, purpose=purpose, max_concurrent=max_concurrent, max_attempts=max_attempts,
                    voicemail_policy=voicemail_policy, network=network, settings=settings)
    s.add(camp)
    s.flush()
    if account_ids:
        ids = list(dict.fromkeys(account_ids))
        found = dict(s.execute(select(Account.id, Account.phone).where(Account.id.in_(ids))).all())
        missing = [i for i in ids if i not in found]
        if missing:
            raise UserError(f"unknown account id(s): {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
        if schedule == "planner":
            camp.settings = {**settings, "accounts": ids}
        else:
            now = datetime.now(UTC)
            s.add_all(Attempt(campaign_id=camp.id, account_id=i, script_id=script_id, phone=found[i],
                              not_before=now) for i in ids)
    return camp


def move_campaign(s: Session, campaign_id: str, action: str, *, today: date | None = None) -> Campaign:
    """start | pause. Starting a planner-scheduled campaign with nothing pending plans today."""
    camp = get_campaign(s, campaign_id)
    allowed, target = MOVES[action]
    if camp.status == target:
        return camp
    if camp.status not in allowed:
        raise CampaignConflict(f"cannot {action} a campaign that is {camp.status}")
    camp.status = target
    if action == "start" and (camp.settings or {}).get("schedule") == "planner":
        pending = s.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.campaign_id == camp.id, Attempt.status.in_(("planned", "claimed", "dialing")))) or 0
        if not pending:
            from agent.campaign.plan_db import plan_campaign_day

            s.flush()
            plan_campaign_day(s, camp.id, today or date.today(), capacity=10_000,
                              account_ids=camp.settings.get("accounts"))
    return camp


def change_campaign(s: Session, campaign_id: str, **changes: Any) -> Campaign:
    """Set max_concurrent, max_attempts and/or network (None: back to the DIAL_NETWORK default)."""
    camp = get_campaign(s, campaign_id)
    for key, value in changes.items():
        if key not in ("max_concurrent", "max_attempts", "network"):
            raise UserError(f"'{key}' cannot be changed here")
        if key == "network":
            if value is not None:
                check_network(value)
        elif value is None or int(value) < 1:
            raise UserError(f"'{key}' must be a positive number")
        setattr(camp, key, value)
    return camp

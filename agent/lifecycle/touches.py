"""Real-time touches: configurable rules turn a CRM event into a planned dial within minutes.

A touch is an Attempt in the purpose's "real-time touches" campaign (created running, one attempt per
touch: no retries), due at event time + the rule's delay, so any worker dials it within seconds. The
gate judges it when it is made (a refused touch is recorded as a ComplianceBlock and not queued) and
again when it is dialled, with the same frequency caps as every other dial.

Rules file (DIALWISE_TOUCH_RULES, JSON or YAML): {"rules": [{"id", "event", "purpose", "delay_minutes",
"within_minutes", "max_event_age_minutes", "product"}]}; `enabled: false` switches one off.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.errors import UserError
from agent.store.lifecycle_models import EVENT_TYPES
from agent.store.models import Account, Attempt, Campaign

DEFAULT_RULES: list[dict[str, Any]] = [
    {"id": "payment_missed_call", "event": "payment_missed", "purpose": "collections", "delay_minutes": 0,
     "within_minutes": 10, "max_event_age_minutes": 60},
    {"id": "application_abandoned_call", "event": "application_abandoned", "purpose": "telesales",
     "product": "reborrow", "delay_minutes": 0, "within_minutes": 30, "max_event_age_minutes": 120},
    {"id": "limit_raised_call", "event": "limit_raised", "purpose": "telesales", "product": "limit_increase",
     "delay_minutes": 0, "within_minutes": 60, "max_event_age_minutes": 240},
]
TOUCH_CAMPAIGN = "real-time touches: {purpose}"


@dataclass(frozen=True)
class TouchRule:
    id: str
    event: str
    purpose: str
    delay_minutes: float = 0
    within_minutes: float = 10
    max_event_age_minutes: float = 60
    product: str | None = None
    enabled: bool = True


def parse_rules(data: Any, where: str = "touch rules") -> list[TouchRule]:
    items = data.get("rules") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise UserError(f"{where}: expected {{\"rules\": [...]}}")
    out, seen = [], set()
    for n, r in enumerate(items, 1):
        if not isinstance(r, dict):
            raise UserError(f"{where}: rule {n} is not an object")
        unknown = set(r) - set(TouchRule.__dataclass_fields__)
        if unknown:
            raise UserError(f"{where}: rule {n} has unknown keys {sorted(unknown)}")
        try:
            rule = TouchRule(**r)
        except TypeError as exc:
            raise UserError(f"{where}: rule {n}: {exc}") from None
        if rule.event not in EVENT_TYPES:
            raise UserError(f"{where}: rule {rule.id!r}: unknown event {rule.event!r}; use one of {list(EVENT_TYPES)}")
        if rule.purpose not in ("collections", "telesales"):
            raise UserError(f"{where}: rule {rule.id!r}: purpose must be collections or telesales")
        if rule.purpose == "telesales" and not rule.product:
            raise UserError(f"{where}: rule {rule.id!r}: a telesales touch needs a 'product'")
        for key in ("delay_minutes", "within_minutes", "max_event_age_minutes"):
            if not isinstance(getattr(rule, key), (int, float)) or getattr(rule, key) < 0:
                raise UserError(f"{where}: rule {rule.id!r}: {key} must be a number >= 0")
        if rule.id in seen:
            raise UserError(f"{where}: duplicate rule id {rule.id!r}")
        seen.add(rule.id)
        out.append(rule)
    return out


def load_rules(path: str | Path | None = None) -> list[TouchRule]:
    path = path or os.environ.get("DIALWISE_TOUCH_RULES")
    if not path:
        return parse_rules(DEFAULT_RULES)
    p = Path(path)
    if not p.exists():
        raise UserError(f"touch rules file {p} does not exist")
    text = p.read_text(encoding="utf-8")
    if p.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"touch rules file {p}: not valid JSON ({exc.msg})") from None
    return parse_rules(data, str(p))


def touch_campaign(s: Session, purpose: str) -> Campaign:
    name = TOUCH_CAMPAIGN.format(purpose=purpose)
    camp = s.scalars(select(Campaign).where(Campaign.name == name).order_by(Campaign.created_at)).first()
    if camp is None:
        camp = Campaign(name=name, purpose=purpose, status="running", max_attempts=1,
                        settings={"schedule": "touches"})
        s.add(camp)
        s.flush()
    return camp


def _script(acc: Account, rule: TouchRule, event_id: str) -> str | None:
    from dialogs.library import ScriptNotFound, normalise_group, variants_for

    group = normalise_group(rule.product if rule.purpose == "telesales" else (acc.bucket or "M1"))
    try:
        ids = variants_for(rule.purpose, group, acc.language)
    except ScriptNotFound:
        return None
    if not ids:
        return None
    return ids[sum(event_id.encode()) % len(ids)]  # variants alternate across events (A/B)


def touch_for_event(s: Session, acc: Account, ev, *, now: datetime | None = None,
                    rules: list[TouchRule] | None = None) -> dict[str, Any] | None:
    """Queue the touch the first matching rule asks for; returns what happened (None: no rule)."""
    from agent.campaign.compliance import check, record_block
    from agent.campaign.plan_db import dial_for, gate_history

    now = now or datetime.now(UTC)
    for rule in rules if rules is not None else load_rules():
        if not rule.enabled or rule.event != ev.type:
            continue
        if acc.purpose != rule.purpose:
            return {"rule": rule.id, "queued": False, "why": f"the account's purpose is {acc.purpose}"}
        if now - ev.at > timedelta(minutes=rule.max_event_age_minutes):
            return {"rule": rule.id, "queued": False, "why": "the event is too old for a real-time touch"}
        script_id = _script(acc, rule, ev.id)
        if script_id is None:
            return {"rule": rule.id, "queued": False, "why": "no script fits this account"}
        camp = touch_campaign(s, rule.purpose)
        busy = s.scalar(select(Attempt.id).where(Attempt.campaign_id == camp.id, Attempt.account_id == acc.id,
                                                 Attempt.status.in_(("planned", "claimed", "dialing"))).limit(1))
        if busy:
            return {"rule": rule.id, "queued": False, "why": f"touch {busy} is already queued"}
        due = max(now, ev.at) + timedelta(minutes=rule.delay_minutes)
        verdict = check(dial_for(acc, due, camp.id, script_id), gate_history(s, acc))
        if not verdict.allowed:
            record_block(s, verdict, account_id=acc.id)
            return {"rule": rule.id, "queued": False, "blocked_by": verdict.rule, "why": verdict.reason}
        att = Attempt(campaign_id=camp.id, account_id=acc.id, script_id=script_id, phone=acc.phone,
                      status="planned", not_before=due)
        s.add(att)
        s.flush()
        return {"rule": rule.id, "queued": True, "attempt_id": att.id, "campaign_id": camp.id,
                "script_id": script_id, "not_before": due.isoformat(), "within_minutes": rule.within_minutes}
    return None

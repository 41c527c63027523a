"""Campaign dashboard figures: the funnel, outcomes by script variant and by local hour."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent.store.models import Account, Attempt, Call
from agent.timeutil import aware, zone_or_utc
from dialogs.outcomes import NOT_CONNECTED as _NOT_CONNECTED
from dialogs.outcomes import NOT_PLACED, RIGHT_PARTY, SUCCESS

NOT_CONNECTED = _NOT_CONNECTED | NOT_PLACED  # the call never reached a person


def _local_hour(at: datetime | None, tz: str | None) -> int | None:
    if at is None:
        return None
    return aware(at).astimezone(zone_or_utc(tz)).hour


def variant_of(call: Call) -> str:
    slots = call.slots or {}
    variant = slots.get("variant") or slots.get("script_variant")
    return f"{call.script_id}:{variant}" if variant else call.script_id


def campaign_stats(session: Session, campaign_id: str) -> dict[str, Any]:
    attempts_by_status = dict(session.execute(
        select(Attempt.status, func.count()).where(Attempt.campaign_id == campaign_id)
        .group_by(Attempt.status)).all())
    dial_results = dict(session.execute(
        select(Attempt.result, func.count()).where(Attempt.campaign_id == campaign_id,
                                                   Attempt.result.is_not(None))
        .group_by(Attempt.result)).all())
    dialled_attempts = session.scalar(
        select(func.count()).select_from(Attempt)
        .where(Attempt.campaign_id == campaign_id, Attempt.dialed_at.is_not(None))) or 0

    rows = session.execute(
        select(Call, Account.timezone).join(Account, Account.id == Call.account_id, isouter=True)
        .where(Call.campaign_id == campaign_id)).all()
    outcomes: Counter[str] = Counter()
    by_variant: dict[str, Counter[str]] = defaultdict(Counter)
    by_hour: dict[int, Counter[str]] = defaultdict(Counter)
    answered = right_party = success = live = 0
    for call, tz in rows:
        kind = call.outcome or ("live" if call.status == "live" else "unknown")
        outcomes[kind] += 1
        by_variant[variant_of(call)][kind] += 1
        hour = _local_hour(call.started_at, tz)
        if hour is not None:
            by_hour[hour][kind] += 1
        if call.status == "live":
            live += 1
        if call.outcome and call.outcome not in NOT_CONNECTED:
            answered += 1
        if call.outcome in RIGHT_PARTY:
            right_party += 1
        if call.outcome in SUCCESS:
            success += 1
    dialled = max(dialled_attempts, len(rows))

    def rate(n: int, d: int) -> float:
        return round(n / d, 4) if d else 0.0

    variants = []
    for name, counter in sorted(by_variant.items()):
        total = sum(counter.values())
        ok = sum(v for k, v in counter.items() if k in SUCCESS)
        variants.append({"variant": name, "calls": total, "outcomes": dict(counter),
                         "success": ok, "success_rate": rate(ok, total)})
    hours = [{"hour": h, "calls": sum(by_hour[h].values()), "outcomes": dict(by_hour[h]),
              "answered": sum(v for k, v in by_hour[h].items() if k not in NOT_CONNECTED
                              and k not in ("live", "unknown"))}
             for h in range(24)]
    return {
        "campaign_id": campaign_id,
        "attempts": attempts_by_status,
        "dial_results": dial_results,
        "live_calls": live,
        "funnel": [
            {"stage": "dialled", "count": dialled},
            {"stage": "answered", "count": answered},
            {"stage": "right_party", "count": right_party},
            {"stage": "promise_or_conversion", "count": success},
        ],
        "rates": {"answer": rate(answered, dialled), "right_party": rate(right_party, dialled),
                  "success_per_dial": rate(success, dialled)},
        "outcomes": dict(outcomes),
        "by_variant": variants,
        "by_hour": hours,
    }

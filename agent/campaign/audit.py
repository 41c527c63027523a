"""An independent re-check of a finished dial log: counts compliance violations after the fact.

This does not call the gate. It replays the log in time order with its own bookkeeping and its own
local-time conversion (dateutil), from the rule text of issue 7; the simulator reports its count.
Limits and holidays come from the same configuration (`Rules`), the logic does not.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil import tz as dtz

from agent.campaign.compliance.rules import Rules, default_rules
from dialogs.outcomes import REFUSAL, RIGHT_PARTY


@dataclass
class LoggedDial:
    at: datetime            # aware
    account_id: str
    phone: str
    timezone: str
    jurisdiction: str
    purpose: str
    consent: bool
    outcome: str
    callback_at: datetime | None = None
    region: str | None = None


def audit(dials: list[LoggedDial], rules: Rules | None = None) -> list[tuple[LoggedDial, str]]:
    """Every dial that broke a rule, with a short name of the rule it broke."""
    rules = rules or default_rules()
    bad: list[tuple[LoggedDial, str]] = []
    by_acc: dict[str, list[LoggedDial]] = defaultdict(list)
    by_phone: dict[str, list[LoggedDial]] = defaultdict(list)
    week = timedelta(days=7)
    for d in sorted(dials, key=lambda x: x.at):
        pack = rules.packs[d.jurisdiction]
        zone = dtz.gettz(d.timezone)
        loc = d.at.astimezone(zone)
        mins = loc.hour * 60 + loc.minute
        prev = by_acc[d.account_id]
        prev_phone = by_phone[d.phone]
        why = None
        if not pack.start_minute <= mins < pack.end_minute:
            why = "hours"
        elif rules.holidays.is_holiday(d.region or d.jurisdiction, loc.date()):
            why = "holiday"
        elif any(p.outcome == "opted_out" for p in prev + prev_phone):
            why = "opt_out"
        elif d.purpose == "telesales" and any(p.outcome in REFUSAL for p in prev + prev_phone):
            why = "refusal"
        elif d.purpose == "telesales" and pack.telemarketing_needs_consent and not d.consent:
            why = "consent"
        if why is None and pack.max_attempts_per_number_per_day is not None:
            same_day = [p for p in prev_phone if p.at.astimezone(zone).date() == loc.date()]
            if len(same_day) >= pack.max_attempts_per_number_per_day:
                why = "attempts_per_day"
        if why is None and pack.max_conversations_per_day is not None:
            talks = [p for p in prev if p.outcome in RIGHT_PARTY and p.at.astimezone(zone).date() == loc.date()]
            if len(talks) >= pack.max_conversations_per_day:
                why = "conversations_per_day"
        if why is None and pack.after_conversation_quiet is not None:
            if any(p.outcome in RIGHT_PARTY and p.at <= d.at < p.at + pack.after_conversation_quiet for p in prev):
                why = "after_conversation"
        if why is None and pack.max_calls_per_window is not None:
            if sum(1 for p in prev if d.at - week < p.at <= d.at) >= pack.max_calls_per_window:
                why = "calls_in_window"
        if why is None:
            for p in prev:
                if p.outcome == "callback" and p.callback_at is not None and \
                        p.at <= d.at < p.callback_at - pack.callback_tolerance and \
                        not any(q.outcome in RIGHT_PARTY and p.at < q.at <= d.at for q in prev):
                    why = "callback"
                    break
        if why is not None:
            bad.append((d, why))
        prev.append(d)
        prev_phone.append(d)
    return bad

"""Rule packs by jurisdiction, with stable rule ids. Change limits here or through a rules file.

Rule ids are a public contract (CLI output, ComplianceBlock rows, reports): never rename one.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from agent.campaign.compliance.holidays import HolidayCalendar, default_calendar

# ---- stable rule ids -------------------------------------------------------------------------
INVALID_INPUT = "invalid_input"
DNC_LIST = "dnc_list"                       # both: global do-not-call list
OPT_OUT = "opt_out"                         # both: opted out by any channel, applies at once
HOLIDAY = "holiday"                         # both: regional holiday calendar
CN_CALLING_HOURS = "cn_calling_hours"       # CN: no calls 22:00-08:00 callee-local
US_CALLING_HOURS = "us_calling_hours"       # US: calls only 08:00-21:00 callee-local
US_TELEMARKETING_CONSENT = "us_telemarketing_consent"  # US: telemarketing only with consent
MARKETING_REFUSAL = "marketing_refusal"     # no marketing call after an explicit refusal
THIRD_PARTY_DISCLOSURE = "third_party_disclosure"  # a third party is never told about the debt
CN_THIRD_PARTY_REACHABLE = "cn_third_party_debtor_reachable"  # CN: third party only if debtor unreachable
CN_DAILY_CONVERSATIONS = "cn_daily_conversations"  # CN: <= 3 effective conversations per debtor per day
CN_DAILY_ATTEMPTS = "cn_daily_attempts_per_number"  # CN: <= 6 dial attempts per number per day
US_7_IN_7 = "us_7_in_7"                     # US: no more than 7 calls in 7 days for a debt
US_AFTER_CONVERSATION = "us_7_days_after_conversation"  # US: no call within 7 days after a conversation
CAMPAIGN_MAX_ATTEMPTS = "campaign_max_attempts"  # both: maximum attempts per campaign
CALLBACK_PENDING = "callback_pending"       # both: the callee asked to be called later
CN_TELESALES_CONSENT = "cn_telesales_consent"  # CN: commercial calls only with consent (MIIT)
PROMISE_PENDING = "promise_pending"         # both: no collections call while a promise to pay is pending
PAYMENT_RECEIVED = "payment_received"       # both: a payment takes the account out of collections

RULE_IDS = (
    INVALID_INPUT, DNC_LIST, OPT_OUT, HOLIDAY, CN_CALLING_HOURS, US_CALLING_HOURS,
    US_TELEMARKETING_CONSENT, MARKETING_REFUSAL, THIRD_PARTY_DISCLOSURE, CN_THIRD_PARTY_REACHABLE,
    CN_DAILY_CONVERSATIONS, CN_DAILY_ATTEMPTS, US_7_IN_7, US_AFTER_CONVERSATION,
    CAMPAIGN_MAX_ATTEMPTS, CALLBACK_PENDING, CN_TELESALES_CONSENT, PROMISE_PENDING, PAYMENT_RECEIVED,
)


@dataclass(frozen=True)
class RulePack:
    """The limits of one jurisdiction. None disables a limit."""

    jurisdiction: str
    hours_rule: str
    start_minute: int                      # first allowed local minute of the day (inclusive)
    end_minute: int                        # first forbidden local minute of the day
    max_conversations_per_day: int | None = None
    max_attempts_per_number_per_day: int | None = None
    max_calls_per_window: int | None = None
    calls_window: timedelta = timedelta(days=7)
    after_conversation_quiet: timedelta | None = None
    telemarketing_needs_consent: bool = False
    consent_rule: str = US_TELEMARKETING_CONSENT   # the rule id a telesales call without consent breaks
    refusal_blocks_marketing: bool = True
    third_party_needs_unreachable: bool = False
    unreachable_min_attempts: int = 3
    unreachable_window: timedelta = timedelta(days=7)
    max_attempts_per_campaign: int | None = None
    callback_tolerance: timedelta = timedelta(minutes=10)


CN_PACK = RulePack(
    jurisdiction="CN", hours_rule=CN_CALLING_HOURS, start_minute=8 * 60, end_minute=22 * 60,
    max_conversations_per_day=3, max_attempts_per_number_per_day=6,
    third_party_needs_unreachable=True,
    telemarketing_needs_consent=True, consent_rule=CN_TELESALES_CONSENT,
)
US_PACK = RulePack(
    jurisdiction="US", hours_rule=US_CALLING_HOURS, start_minute=8 * 60, end_minute=21 * 60,
    max_calls_per_window=7, after_conversation_quiet=timedelta(days=7),
    telemarketing_needs_consent=True,
)


@dataclass(frozen=True)
class Rules:
    """Everything the gate needs besides the dial and its history."""

    packs: dict[str, RulePack] = field(default_factory=lambda: {"CN": CN_PACK, "US": US_PACK})
    holidays: HolidayCalendar = field(default_factory=default_calendar)
    dnc: frozenset[str] = frozenset()

    def with_dnc(self, phones) -> Rules:
        return replace(self, dnc=self.dnc | frozenset(phones))


@lru_cache(maxsize=1)
def default_rules() -> Rules:
    return Rules()


_PACK_KEYS = {
    "start_minute", "end_minute", "max_conversations_per_day", "max_attempts_per_number_per_day",
    "max_calls_per_window", "telemarketing_needs_consent", "refusal_blocks_marketing",
    "third_party_needs_unreachable", "unreachable_min_attempts", "max_attempts_per_campaign",
}
_PACK_DAY_KEYS = {"calls_window_days": "calls_window", "after_conversation_quiet_days":
                  "after_conversation_quiet", "unreachable_window_days": "unreachable_window"}


def load_rules(path: str | Path) -> Rules:
    """Read a rules file (JSON; YAML if PyYAML is present) that overrides the defaults:

    {"packs": {"CN": {"max_attempts_per_campaign": 20, ...}}, "holidays": {"CN": ["2025-10-01"]},
     "replace_holidays": false, "dnc": ["+8613800000000"]}
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    if p.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text) or {}
    else:
        data = json.loads(text)
    base = default_rules()
    packs = dict(base.packs)
    for jur, over in (data.get("packs") or {}).items():
        unknown = set(over) - _PACK_KEYS - set(_PACK_DAY_KEYS)
        if unknown:
            raise ValueError(f"unknown rule settings for {jur}: {sorted(unknown)}")
        kw = {k: v for k, v in over.items() if k in _PACK_KEYS}
        for k, attr in _PACK_DAY_KEYS.items():
            if k in over:
                kw[attr] = None if over[k] is None else timedelta(days=float(over[k]))
        packs[jur] = replace(packs[jur], **kw)
    holidays = base.holidays
    if "holidays" in data:
        holidays = holidays.with_dates(data["holidays"], replace=bool(data.get("replace_holidays")))
    return Rules(packs=packs, holidays=holidays, dnc=frozenset(data.get("dnc") or ()))

"""Data at the compliance seam: a proposed dial, the history it is judged against, the verdict."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

JURISDICTIONS = ("CN", "US")
PURPOSES = ("collections", "telesales")
# "conversation" = an effective conversation with the right party; it also counts as an attempt.
# "refusal" = an explicit no to marketing. "callback" = the callee asked to be called at `callback_at`.
# "promise" = a promise to pay made at `at`, pending until `until`; "payment" = a payment received at
# `at`, which holds collections calls until `until` (None: for good, e.g. until the CRM reports a miss).
EVENT_TYPES = ("attempt", "conversation", "refusal", "opt_out", "callback", "promise", "payment")
DIAL_EVENTS = ("attempt", "conversation")  # events that were a dial
PARTIES = ("debtor", "third_party")


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """Something that happened to a callee or a debt. `at` is timezone-aware."""

    at: datetime
    type: str
    phone: str | None = None
    debt_id: str | None = None
    campaign_id: str | None = None
    callback_at: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProposedDial:
    """One dial we would like to place. `at` is timezone-aware; `timezone` is the callee's IANA zone.

    `debt_id` identifies the debt (collections) or the customer relationship (telesales).
    `party="third_party"` marks a call to someone other than the debtor (a contact person);
    `discloses_debt` says whether the script for that call mentions the debt.
    `max_attempts` caps attempts for this debt inside `campaign_id` (None: the pack's default).
    `touch` names a follow-up kind (e.g. "ptp_reminder", the one call allowed while a promise is pending).
    """

    jurisdiction: str
    purpose: str
    at: datetime
    timezone: str
    phone: str
    debt_id: str
    consent: bool = False
    opted_out: bool = False
    region: str | None = None
    campaign_id: str | None = None
    party: str = "debtor"
    discloses_debt: bool = False
    max_attempts: int | None = None
    touch: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    rule: str | None
    reason: str

    def as_dict(self) -> dict:
        return {"allowed": self.allowed, "rule": self.rule, "reason": self.reason}


ALLOWED = Verdict(True, None, "allowed: no rule blocks this dial")

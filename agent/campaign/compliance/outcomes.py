"""From call outcomes to the history events the gate judges (one mapping for every caller).

A dial is one "attempt"; if the right party was on the line it is a "conversation" instead (which
also counts as an attempt -- do not add both for one dial). An explicit no adds a "refusal", an
opt-out an "opt_out", a requested call-back time a "callback".
"""
from __future__ import annotations

from datetime import datetime

from agent.campaign.compliance.types import HistoryEvent
from dialogs.outcomes import REFUSAL, RIGHT_PARTY

RIGHT_PARTY_OUTCOMES = RIGHT_PARTY  # the vocabulary's groups (dialogs/outcomes.py)
REFUSAL_OUTCOMES = REFUSAL


def events_for_outcome(at: datetime, outcome: str | None, phone: str | None, debt_id: str | None,
                       campaign_id: str | None = None, callback_at: datetime | None = None) -> list[HistoryEvent]:
    """The gate events of one placed dial with its outcome (None: not known yet, counts as an attempt)."""
    kind = "conversation" if outcome in RIGHT_PARTY_OUTCOMES else "attempt"
    out = [HistoryEvent(at, kind, phone, debt_id, campaign_id)]
    if outcome == "opted_out":
        out.append(HistoryEvent(at, "opt_out", phone, debt_id))
    elif outcome in REFUSAL_OUTCOMES:
        out.append(HistoryEvent(at, "refusal", phone, debt_id))
    elif outcome == "callback" and callback_at is not None:
        out.append(HistoryEvent(at, "callback", phone, debt_id, callback_at=callback_at))
    return out

"""The one call-outcome vocabulary: what a call ends with, and the groups every part of dialwise judges
outcomes by (the compliance gate, the planner's history, the scores, the reports and the console stats).

Decisions kept here, once:
- `completed` (a reminder delivered to, and acknowledged by, the verified person) is a right-party
  contact, like every outcome of a conversation with the debtor;
- `paid_already` is a success of the call (the debt is settled) but not of the script: a script is
  judged on what it obtained (a promise or a sale), so SCRIPT_SUCCESS leaves it out.
"""
from __future__ import annotations

# Every call ends with exactly one of these (a script's ending names one).
CALL_OUTCOMES: tuple[str, ...] = (
    "ptp",            # promise to pay (amount, date in slots)
    "paid_already",
    "refused",
    "dispute",
    "wrong_number",
    "third_party",
    "callback",
    "transferred",
    "opted_out",
    "voicemail",
    "no_answer",
    "hung_up",
    "converted",
    "not_interested",
    "completed",      # a reminder delivered and acknowledged (pre-due), nothing else captured
    "unverified",     # right-party verification failed (wrong ID digits): nothing about the debt was said
)

# A dial's outcome in account history (the planner's and scorer's input). The order is the history's
# integer code (agent/campaign/portfolio.py): append only. A call's `completed` enters history as
# `right_party`.
HISTORY_OUTCOMES: tuple[str, ...] = (
    "no_answer", "busy", "voicemail", "wrong_number", "third_party", "right_party", "ptp",
    "paid_already", "refused", "dispute", "callback", "transferred", "opted_out", "converted",
    "not_interested", "hung_up",
)

NOT_CONNECTED = frozenset({"no_answer", "busy", "voicemail"})  # nobody (or a machine) answered
NOT_PLACED = frozenset({"failed", "blocked"})  # attempt results: the dial never rang
WRONG_PARTY = frozenset({"wrong_number", "third_party"})
# the right party was on the line: history outcomes from right_party on, and a completed reminder
RIGHT_PARTY = frozenset(HISTORY_OUTCOMES[HISTORY_OUTCOMES.index("right_party"):]) | {"completed"}
REFUSAL = frozenset({"refused", "not_interested"})  # an explicit no (marketing may not call again)
NEGATIVE = frozenset({"refused", "dispute", "opted_out", "not_interested", "hung_up"})
PROMISE_OR_PAID = frozenset({"ptp", "paid_already"})
SUCCESS = frozenset({"ptp", "converted", "paid_already"})  # the call reached its goal
SCRIPT_SUCCESS = frozenset({"ptp", "converted"})  # what a script is judged on
# outcomes that keep mattering after the history window: the gate always sees them
STICKY = frozenset({"opted_out", "refused", "not_interested", "callback"})

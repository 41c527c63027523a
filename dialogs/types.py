"""Types at the policy seam: events in, decisions out. Pure data, no I/O."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dialogs.outcomes import CALL_OUTCOMES
from nlu.types import Understanding

OUTCOMES = CALL_OUTCOMES  # every call ends with exactly one of these (dialogs/outcomes.py)

ACTION_KINDS = ("send_sms_link", "transfer", "schedule_callback", "record_opt_out", "end_call")


@dataclass
class Account:
    """What a script may know about the callee (the `--account FILE.json` of `dialwise converse`)."""

    name: str
    language: str  # zh | en
    balance: float
    currency: str
    due_date: date | None
    days_past_due: int
    product: str | None = None
    id_last4: str = ""
    lender: str | None = None
    limit: float | None = None
    jurisdiction: str | None = None
    promise_amount: float | None = None  # the latest promise to pay (follow-up scripts)
    promise_date: date | None = None


@dataclass
class Line:
    """One thing the agent says. Fixed lines have an id and can be pre-synthesised."""

    text: str
    line_id: str | None = None  # set for fixed lines (prompt cache, recorded prompts)

    @property
    def fixed(self) -> bool:
        return self.line_id is not None


@dataclass
class Action:
    kind: str  # one of ACTION_KINDS
    params: dict[str, Any] = field(default_factory=dict)


# Events the policy consumes.
@dataclass
class Heard:
    understanding: Understanding


@dataclass
class Silence:
    pass


@dataclass
class Dtmf:
    digits: str


Event = Heard | Silence | Dtmf


@dataclass
class Decision:
    node: str
    lines: list[Line] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    outcome: str | None = None  # set when the conversation is over
    end: bool = False
    expect: str | None = None  # nlu.types.EXPECTS hint for the next utterance
    eos_silence_ms: int | None = None  # endpointing hint for the next utterance
    min_wait_ms: int | None = None  # turn-taking: earliest answer to a complete answer
    max_wait_ms: int | None = None  # turn-taking: longest wait on an incomplete answer
    slots: dict[str, Any] = field(default_factory=dict)

    @property
    def say(self) -> str:
        return " ".join(line.text for line in self.lines)

"""Types at the understanding seam: what NLU hands the dialog policy."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_SPEC = Path(__file__).with_name("data") / "intents.yaml"

# What the agent just asked: the dialog node's `expect` hint, passed to classify() as context.
EXPECTS = (
    "identity",       # "Am I speaking with Wang Fang?"
    "id_last4",       # "Please tell me the last 4 digits of your ID number"
    "yes_no",         # a plain yes/no question (read-back, "shall I send the link?")
    "offer",          # telesales pitch: yes means interested
    "payment",        # "when can you pay?": yes means promise_to_pay
    "amount",         # "how much can you pay?"
    "date",           # "which day?"
    "callback_time",  # "when should we call back?"
    "open",           # anything
)


@lru_cache(maxsize=1)
def _spec() -> dict[str, Any]:
    return yaml.safe_load(_SPEC.read_text(encoding="utf-8"))


def intent_names() -> list[str]:
    return list(_spec()["intents"].keys())


def must_not_miss() -> list[str]:
    return list(_spec()["must_not_miss"])


@dataclass
class Understanding:
    """One classified callee utterance."""

    intent: str
    confidence: float
    text: str = ""
    lang: str = "en"
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    # amount: float|None, date: "YYYY-MM-DD"|None, time: "HH:MM"|None, last4: str|None
    entities: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "confidence": round(float(self.confidence), 4),
            "alternatives": [[i, round(float(p), 4)] for i, p in self.alternatives],
            "entities": self.entities,
        }

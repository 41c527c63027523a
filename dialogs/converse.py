"""Text-level conversation runner behind `dialwise converse --jsonl` (same NLU and policy as real calls).

Protocol (one JSON object per line, each output line flushed at once):
  out: {"node", "say", "actions"}            the opening, then one reply per input line
  in:  {"text": "..."} | {"silence": true} | {"dtmf": "1"} | {"hangup": true}
  out: {"outcome", "slots"}                  when the conversation ends, or when stdin ends (outcome hung_up)
A malformed input line gets {"error": "..."} and the conversation goes on.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any, TextIO

from dialogs.policy import Policy
from dialogs.script import Script
from dialogs.types import Account, Decision, Dtmf, Heard, Silence
from nlu.types import Understanding

Classifier = Callable[..., Understanding]


def real_classifier() -> Classifier:
    """The project's nlu.classify(text, lang, context=None, today=None); ImportError if the NLU is missing."""
    import nlu

    fn = getattr(nlu, "classify", None)
    if fn is not None and not callable(fn):  # the submodule shadowed the function
        fn = getattr(fn, "classify", None)
    if fn is None or not callable(fn):
        raise ImportError("nlu.classify is not available")
    return fn


def spoken(decision: Decision, lang: str) -> str:
    """The decision's lines as one utterance (no spaces between Chinese sentences)."""
    sep = "" if lang == "zh" else " "
    return sep.join(line.text for line in decision.lines)


def reply_json(decision: Decision, lang: str) -> dict[str, Any]:
    return {
        "node": decision.node,
        "say": spoken(decision, lang),
        "actions": [{"kind": a.kind, "params": a.params} for a in decision.actions],
    }


def _emit(out: TextIO, obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()


def run_jsonl(script: Script, account: Account, today: date, stdin: TextIO, stdout: TextIO,
              classify: Classifier) -> Policy:
    """Hold one conversation over JSON lines; returns the finished policy."""
    policy = Policy(script, account, today)
    lang = script.language
    decision = policy.start()
    _emit(stdout, reply_json(decision, lang))
    while not policy.ended:  # the outcome is printed as soon as the conversation ends, without more input
        raw = stdin.readline()
        if raw == "":
            break
        raw = raw.strip()
        if not raw:
            continue
        try:
            msg = json.loads(raw)
            if not isinstance(msg, dict):
                raise ValueError("expected a JSON object")
        except ValueError as exc:
            _emit(stdout, {"error": f"bad input line ({exc}); "
                                    'send {"text": ...}, {"silence": true} or {"dtmf": "1"}'})
            continue
        if msg.get("hangup"):
            decision = policy.hangup()
            break
        if msg.get("silence"):
            decision = policy.step(Silence())
        elif msg.get("dtmf") not in (None, ""):
            decision = policy.step(Dtmf(str(msg["dtmf"])))
        elif isinstance(msg.get("text"), str):
            text = msg["text"].strip()
            if not text:
                decision = policy.step(Silence())
            else:
                u = classify(text, lang, context=decision.expect, today=today)
                decision = policy.step(Heard(u))
        else:
            _emit(stdout, {"error": "input needs one of text, silence, dtmf"})
            continue
        _emit(stdout, reply_json(decision, lang))
    if not policy.ended:
        policy.hangup()
    _emit(stdout, {"outcome": policy.outcome, "slots": policy.slots})
    return policy

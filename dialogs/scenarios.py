"""Conversation scenarios: callee turns -> expected nodes, lines, actions, outcome (in the spirit of
LiveKit's expect API), runnable with hand-labelled understandings or through the real NLU.

A scenario file (dialogs/scenario_data/*.yaml) is a list of:

    - name: m1 zh, part payment with a date correction
      script: collections_m1_zh_a
      today: 2026-11-16                 # optional (default 2026-11-16)
      account: {balance: 3000}          # optional overrides of the sample account
      open: {node: opening, say: [王芳]} # optional expectations on the opening
      turns:
        - verify: true                   # shorthand: confirm name + say "1234" (the sample ID digits)
        - text: "是我"                   # or silence: true | dtmf: "1" | hangup: true
          intent: confirm_identity       # the label used in "labels" mode (classify is used in "nlu" mode)
          entities: {last4: "1234"}      # optional, labels mode only
          expect: {node: ask_last4, say: ["身份证"], not_say: ["元"], actions: [transfer], end: false}
      outcome: ptp
      slots: {pay_amount: 800.0}
      actions: [send_sms_link]           # kinds fired at some point of the call
      never_say: ["两千"]                 # substrings the agent must never say in this call
      path: [verified, readback_part]    # nodes entered, in this order (not necessarily adjacent)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from dialogs.library import load_script, sample_account
from dialogs.policy import Policy
from dialogs.types import Decision, Dtmf, Heard, Silence
from nlu.types import Understanding

DEFAULT_TODAY = date(2026, 11, 16)


@dataclass
class Scenario:
    name: str
    script: str
    turns: list[dict[str, Any]]
    source: str = ""
    today: date = DEFAULT_TODAY
    account: dict[str, Any] = field(default_factory=dict)
    open: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)
    never_say: list[str] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    nlu: bool = True  # False: the scenario depends on its labels (e.g. a low confidence) and skips NLU mode
    nlu_known_issue: str | None = None  # NLU mode is expected to fail for this documented reason


def load_scenarios(folder: Path) -> list[Scenario]:
    out: list[Scenario] = []
    for path in sorted(Path(folder).glob("*.yaml")):
        items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        for item in items:
            item = dict(item)
            today = item.pop("today", None)
            out.append(Scenario(source=path.name, today=date.fromisoformat(str(today)) if today else DEFAULT_TODAY,
                                **item))
    return out


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _check(decision: Decision, expect: dict[str, Any], where: str) -> list[str]:
    errors: list[str] = []
    said = decision.say
    if "node" in expect and decision.node != expect["node"]:
        errors.append(f"{where}: node {decision.node!r}, expected {expect['node']!r} (said: {said!r})")
    for text in _as_list(expect.get("say")):
        if text not in said:
            errors.append(f"{where}: expected the agent to say {text!r}, it said {said!r}")
    for text in _as_list(expect.get("not_say")):
        if text in said:
            errors.append(f"{where}: the agent said {text!r}: {said!r}")
    kinds = [a.kind for a in decision.actions]
    for kind in _as_list(expect.get("actions")):
        if kind not in kinds:
            errors.append(f"{where}: expected action {kind!r}, got {kinds}")
    if expect.get("no_actions") and kinds:
        errors.append(f"{where}: expected no actions, got {kinds}")
    if "end" in expect and bool(expect["end"]) != decision.end:
        errors.append(f"{where}: end={decision.end}, expected {expect['end']}")
    if "outcome" in expect and decision.outcome != expect["outcome"]:
        errors.append(f"{where}: outcome {decision.outcome!r}, expected {expect['outcome']!r}")
    return errors


Classifier = Callable[..., Understanding]

# `- verify: true` stands for the two right-party verification turns (name, then the ID's last 4 digits).
_VERIFY: dict[str, list[dict[str, Any]]] = {
    "zh": [{"text": "是我", "intent": "confirm_identity"},
           {"text": "1234", "intent": "out_of_scope", "entities": {"last4": "1234"}}],
    "en": [{"text": "Yes, speaking.", "intent": "confirm_identity"},
           {"text": "It's 1234.", "intent": "out_of_scope", "entities": {"last4": "1234"}}],
}


def _expand(turns: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for turn in turns:
        if turn.get("verify"):
            first, second = (dict(t) for t in _VERIFY[lang])
            if isinstance(turn.get("expect"), dict):
                second["expect"] = turn["expect"]
            out.extend([first, second])
        else:
            out.append(turn)
    return out


def run_scenario(sc: Scenario, classify: Classifier | None = None) -> list[str]:
    """Run one scenario; return failure messages (empty: it passed).

    With `classify` None the turns' `intent`/`entities` labels are used ("labels" mode, a policy test);
    otherwise every text turn goes through `classify(text, lang, context=expect, today=today)`.
    """
    script = load_script(sc.script)
    account = sample_account(script.language, sc.today)
    for key, value in sc.account.items():
        if key == "due_date" and value is not None:
            value = date.fromisoformat(str(value))
        setattr(account, key, value)
    policy = Policy(script, account, sc.today)
    decision = policy.start()
    said: list[str] = [decision.say]
    kinds: list[str] = [a.kind for a in decision.actions]
    errors = _check(decision, sc.open, "opening")
    for i, turn in enumerate(_expand(sc.turns, script.language), 1):
        where = f"turn {i}"
        if policy.ended:
            errors.append(f"{where}: the call already ended at {policy.node!r} ({policy.outcome})")
            break
        if turn.get("hangup"):
            decision = policy.hangup()
        elif turn.get("silence"):
            decision = policy.step(Silence())
        elif "dtmf" in turn:
            decision = policy.step(Dtmf(str(turn["dtmf"])))
        else:
            text = str(turn.get("text", ""))
            if classify is None:
                u = Understanding(turn.get("intent", "out_of_scope"), float(turn.get("confidence", 0.9)), text=text,
                                  lang=script.language, entities=dict(turn.get("entities") or {}))
            else:
                u = classify(text, script.language, context=decision.expect, today=sc.today)
            decision = policy.step(Heard(u))
            where += f" ({text!r} -> {u.intent} {u.entities or ''})"
        said.append(decision.say)
        kinds.extend(a.kind for a in decision.actions)
        errors.extend(_check(decision, turn.get("expect") or {}, where))
    if sc.outcome is not None and policy.outcome != sc.outcome:
        errors.append(f"outcome {policy.outcome!r}, expected {sc.outcome!r} (path {policy.path})")
    for key, value in sc.slots.items():
        got = policy.slots.get(key)
        if got != value:
            errors.append(f"slot {key}={got!r}, expected {value!r}")
    for kind in sc.actions:
        if kind not in kinds:
            errors.append(f"action {kind!r} never fired (fired: {kinds})")
    whole = "\n".join(said)
    for text in sc.never_say:
        if text in whole:
            errors.append(f"the agent said {text!r}, which it must never say here")
    pos = 0
    path = policy.path
    for node in sc.path:
        try:
            pos = path.index(node, pos) + 1
        except ValueError:
            errors.append(f"path {path} does not pass {node!r} in the expected order {sc.path}")
            break
    return errors

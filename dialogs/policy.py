"""The dialog policy: a deterministic state machine over a Script.

    policy = Policy(script, account, today)
    decision = policy.start()                 # the opening lines
    decision = policy.step(Heard(understanding))   # or Silence() / Dtmf("1")

Pure: no I/O, no clock, no randomness. `state()` is JSON-serialisable and `Policy.from_state` resumes.
Rule order at a waiting node, for one callee utterance:
  1. the node's rules that name the intent (in order),
  2. the script's global handlers for the intent (stop_calling, wrong_number, ...),
  3. the node's rules that name no intent (conditions on entities/slots, e.g. "an amount was given"),
  4. otherwise: unclear -> "sorry" + re-ask, counted; after max_retries -> on_exhausted (or the fallback).
Silence is counted the same way with the "still_there" line. Loops are cut by per-node visit limits,
a per-node limit on answered side questions, a per-call turn limit, and `max`/`then` on handlers.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from dialogs.expr import ExprError, evaluate, truthy
from dialogs.render import speak_value
from dialogs.script import ACCOUNT_FIELDS, PLACEHOLDER, Node, Rule, Script
from dialogs.types import Account, Action, Decision, Dtmf, Event, Line, Silence
from nlu.types import Understanding, must_not_miss

DEFAULTS: dict[str, Any] = {
    "max_retries": 2,      # unclear answers or silences in a row at one node before giving up on it
    "max_visits": 4,       # entries into one node per call (read-back corrections, re-offers)
    "max_stays": 3,        # side questions answered in a row at one node
    "max_turns": 30,       # callee turns per call
    "min_confidence": 0.35,  # below this an utterance counts as unclear
}
# When a node expects one of these entities and the utterance carries it, the node's own entity rules go
# first, unless the intent is one that must never be missed (or a call-back request).
EXPECT_ENTITY = {"id_last4": "last4", "date": "date", "amount": "amount"}
PROTECTED = frozenset(must_not_miss()) | {"call_back_later"}
SORRY_LINE = "sorry"
SILENCE_LINE = "still_there"


@dataclass
class PolicyState:
    script_id: str
    node: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    verified: bool = False
    retries: int = 0
    stays: int = 0
    turns: int = 0
    visits: dict[str, int] = field(default_factory=dict)
    uses: dict[str, int] = field(default_factory=dict)
    ended: bool = False
    outcome: str | None = None
    last_lines: list[list[Any]] = field(default_factory=list)  # [[text, line_id], ...]
    path: list[str] = field(default_factory=list)  # nodes entered, in order


class Policy:
    def __init__(self, script: Script, account: Account, today: date, params: dict[str, Any] | None = None):
        self.script = script
        self.account = account
        self.today = today
        self.params: dict[str, Any] = {**DEFAULTS, **script.params, **(params or {})}
        self.lang = script.language
        self._s = PolicyState(script_id=script.id)

    # ------------------------------------------------------------------ public API
    @property
    def node(self) -> str | None:
        return self._s.node

    @property
    def ended(self) -> bool:
        return self._s.ended

    @property
    def outcome(self) -> str | None:
        return self._s.outcome

    @property
    def verified(self) -> bool:
        return self._s.verified

    @property
    def slots(self) -> dict[str, Any]:
        specs = self.script.slots
        return {k: v for k, v in self._s.slots.items()
                if v is not None and (k not in specs or specs[k].report)}

    @property
    def path(self) -> list[str]:
        return list(self._s.path)

    def state(self) -> dict[str, Any]:
        return asdict(self._s)

    @classmethod
    def from_state(cls, script: Script, account: Account, today: date, state: dict[str, Any],
                   params: dict[str, Any] | None = None) -> Policy:
        if state.get("script_id") != script.id:
            raise ValueError(f"state is for script {state.get('script_id')!r}, not {script.id!r}")
        policy = cls(script, account, today, params)
        policy._s = PolicyState(**state)
        return policy

    def start(self) -> Decision:
        if self._s.node is not None:
            raise RuntimeError("Policy.start() was already called")
        for name in self.script.slots:
            self._s.slots[name] = None
        for name, spec in self.script.slots.items():
            if spec.init:
                self._s.slots[name] = evaluate(spec.init, self._env())
        lines: list[Line] = []
        actions: list[Action] = []
        self._enter(self.script.start, lines, actions)
        return self._decision(lines, actions)

    def step(self, event: Event) -> Decision:
        if self._s.node is None:
            raise RuntimeError("call Policy.start() before step()")
        if self._s.ended:
            return self._decision([], [], remember=False)
        self._s.turns += 1
        lines: list[Line] = []
        actions: list[Action] = []
        if self._s.turns > int(self.params["max_turns"]):
            self._enter(self.script.fallback, lines, actions)
            return self._decision(lines, actions)
        if isinstance(event, Silence):
            self._retry([SILENCE_LINE], lines, actions)
            return self._decision(lines, actions)
        understanding = self._from_dtmf(event.digits) if isinstance(event, Dtmf) else event.understanding
        self._heard(understanding, lines, actions)
        return self._decision(lines, actions)

    def hangup(self) -> Decision:
        """The callee hung up (or the text session ended) before the script finished."""
        if not self._s.ended:
            self._s.ended = True
            self._s.outcome = "hung_up"
        return self._decision([], [], remember=False)

    # ------------------------------------------------------------------ internals
    def _current(self) -> Node:
        return self.script.nodes[self._s.node or self.script.start]

    def _env(self, understanding: Understanding | None = None, captured: bool = False) -> dict[str, Any]:
        acc = self.account
        env: dict[str, Any] = {name: getattr(acc, name, None) for name in ACCOUNT_FIELDS}
        if isinstance(env.get("due_date"), date):
            env["due_date"] = env["due_date"].isoformat()
        env.update(self.params)
        env.update(self._s.slots)
        ents = understanding.entities if understanding else {}
        env.update({
            "today": self.today.isoformat(),
            "verified": self._s.verified,
            "captured": captured,
            "intent": understanding.intent if understanding else None,
            "entity_amount": ents.get("amount"),
            "entity_date": ents.get("date"),
            "entity_time": ents.get("time"),
            "entity_last4": ents.get("last4"),
        })
        return env

    def _from_dtmf(self, digits: str) -> Understanding:
        digits = (digits or "").strip()
        if len(digits) == 4 and digits.isdigit():
            return Understanding("out_of_scope", 1.0, text=digits, lang=self.lang, entities={"last4": digits})
        intent = self.script.dtmf.get(digits, "out_of_scope")
        return Understanding(intent, 1.0, text=f"<dtmf {digits}>", lang=self.lang)

    def _gate(self, rule: Rule) -> bool:
        return rule.verified is None or rule.verified == self._s.verified

    def _heard(self, u: Understanding, lines: list[Line], actions: list[Action]) -> None:
        node = self._current()
        intent = u.intent if u.confidence >= float(self.params["min_confidence"]) else None
        named = {i for r in node.rules for i in r.intent}
        if intent == "confirm_identity" and intent not in named and "affirm" in named:
            intent = "affirm"  # "yes, I can" read as "yes, it's me": at a node that does not ask who, it is a yes
        if node.expect == "id_last4" and not u.entities.get("last4"):
            digits = re.findall(r"(?<!\d)\d{4}(?!\d)", re.sub(r"(?<=\d)[\s-](?=\d)", "", u.text or ""))
            if len(digits) == 1:  # the NLU left the ID digits in the text: read them here
                u = Understanding(u.intent, u.confidence, u.text, u.lang, u.alternatives,
                                  {**u.entities, "last4": digits[0]})
        captures: dict[str, Any] = {}
        for slot, entity in node.capture.items():
            value = u.entities.get(entity)
            if value not in (None, ""):
                captures[slot] = value
        saved = dict(self._s.slots)
        self._s.slots.update(captures)
        env = self._env(u, captured=bool(captures))
        chosen: tuple[Rule, str] | None = None
        wanted = EXPECT_ENTITY.get(node.expect or "")
        if wanted and u.entities.get(wanted) not in (None, "") and intent not in PROTECTED:
            # the node asked for exactly this (e.g. the ID digits): the answer beats a side intent the
            # classifier may read into it ("1234" as repeat_request), but never a must-not-miss intent
            chosen = next(((r, f"{self._s.node}.{i}") for i, r in enumerate(node.rules)
                           if not r.intent and self._gate(r) and truthy(r.when, env)), None)
        if chosen is None and intent:
            chosen = next(((r, f"{self._s.node}.{i}") for i, r in enumerate(node.rules)
                           if intent in r.intent and self._gate(r) and truthy(r.when, env)), None)
        if chosen is None and intent:
            self._s.slots = dict(saved)  # a global handler does not take the node's captures
            genv = self._env(u, captured=False)
            chosen = next(((r, f"global.{i}") for i, r in enumerate(self.script.globals)
                           if intent in r.intent and self._gate(r) and truthy(r.when, genv)), None)
            if chosen is None:
                self._s.slots.update(captures)
        if chosen is None:
            chosen = next(((r, f"{self._s.node}.{i}") for i, r in enumerate(node.rules)
                           if not r.intent and self._gate(r) and truthy(r.when, env)), None)
        if chosen is None:
            self._s.slots = saved
            self._retry([SORRY_LINE], lines, actions)
            return
        self._apply(chosen[0], chosen[1], u, lines, actions)

    def _apply(self, rule: Rule, key: str, u: Understanding | None, lines: list[Line], actions: list[Action]) -> None:
        if rule.stay or rule.repeat:
            self._s.uses[key] = self._s.uses.get(key, 0) + 1
            if rule.max is not None and self._s.uses[key] > rule.max:
                self._enter(rule.then or self.script.fallback, lines, actions)
                return
            self._s.stays += 1
            if self._s.stays > int(self.params["max_stays"]):
                self._enter(self.script.fallback, lines, actions)
                return
        self._assign(rule.set, u)
        actions.extend(self._actions(rule.actions, u))
        if rule.retry:
            self._retry(rule.say or [SORRY_LINE], lines, actions)
            return
        self._say(rule.say, lines)
        if rule.to:
            self._enter(rule.to, lines, actions)
        elif rule.repeat:
            lines.extend(Line(text, line_id) for text, line_id in self._s.last_lines)
        elif rule.stay:
            self._say(self._reprompt(self._current()), lines)

    def _retry(self, prefix: list[str], lines: list[Line], actions: list[Action]) -> None:
        node = self._current()
        self._s.retries += 1
        limit = node.max_retries if node.max_retries is not None else int(self.params["max_retries"])
        if self._s.retries > limit:
            self._enter(node.on_exhausted or self.script.fallback, lines, actions)
            return
        self._say(prefix, lines)
        self._say(self._reprompt(node), lines)

    @staticmethod
    def _reprompt(node: Node) -> list[str]:
        return node.reprompt if node.reprompt is not None else node.say

    def _assign(self, assignments: dict[str, str], u: Understanding | None) -> None:
        for slot, expr in assignments.items():
            self._s.slots[slot] = evaluate(expr, self._env(u))

    def _actions(self, specs: list, u: Understanding | None) -> list[Action]:
        out: list[Action] = []
        for spec in specs:
            params: dict[str, Any] = {}
            for name, value in spec.params.items():
                if isinstance(value, str) and value.startswith("="):
                    try:
                        params[name] = evaluate(value[1:], self._env(u))
                    except ExprError:
                        params[name] = None
                else:
                    params[name] = value
            out.append(Action(spec.kind, params))
        return out

    def _enter(self, name: str, lines: list[Line], actions: list[Action], depth: int = 0) -> None:
        if depth > 25:
            raise RuntimeError(f"script {self.script.id}: pass-through nodes loop at {name!r}")
        node = self.script.nodes[name]
        visits = self._s.visits.get(name, 0) + 1
        self._s.visits[name] = visits
        if not node.end and visits > int(self.params["max_visits"]) and name != self.script.fallback:
            self._enter(self.script.fallback, lines, actions, depth + 1)
            return
        self._s.node = name
        self._s.path.append(name)
        self._s.retries = 0
        self._s.stays = 0
        if node.marks_verified:
            self._s.verified = True
        self._assign(node.set, None)
        actions.extend(self._actions(node.actions, None))
        self._say(node.say, lines)
        if node.end:
            self._s.ended = True
            self._s.outcome = node.outcome
            if not any(a.kind in ("end_call", "transfer") for a in actions):
                actions.append(Action("end_call"))
            return
        if node.next is not None:
            env = self._env()
            for rule in node.next:
                if self._gate(rule) and truthy(rule.when, env):
                    self._assign(rule.set, None)
                    actions.extend(self._actions(rule.actions, None))
                    self._say(rule.say, lines)
                    self._enter(rule.to or self.script.fallback, lines, actions, depth + 1)
                    return
            self._enter(self.script.fallback, lines, actions, depth + 1)

    def render(self, key: str) -> Line | None:
        """One script line in this call's language, placeholders spoken naturally; None if not in this language."""
        spec = self.script.lines[key]
        if spec.only and self.lang not in spec.only:
            return None
        text = spec.text(self.lang)
        if text is None:
            return None
        names = PLACEHOLDER.findall(text)
        if not names:
            return Line(text.strip(), self.script.line_id(key))
        env = self._env()
        types = self.script.names()
        currency = self.account.currency or ("CNY" if self.lang == "zh" else "USD")

        def sub(match: Any) -> str:
            name = match.group(1)
            return speak_value(env.get(name), types.get(name, "text"), self.lang, currency, self.today)

        return Line(PLACEHOLDER.sub(sub, text).strip(), None)

    def _say(self, keys: list[str], lines: list[Line]) -> None:
        for key in keys:
            line = self.render(key)
            if line is not None and line.text:
                lines.append(line)

    def _decision(self, lines: list[Line], actions: list[Action], remember: bool = True) -> Decision:
        if remember and lines:
            self._s.last_lines = [[line.text, line.line_id] for line in lines]
        node = self._current()
        return Decision(
            node=self._s.node or "",
            lines=lines,
            actions=actions,
            outcome=self._s.outcome if self._s.ended else None,
            end=self._s.ended,
            expect=None if self._s.ended else node.expect,
            eos_silence_ms=None if self._s.ended else node.eos_silence_ms,
            min_wait_ms=None if self._s.ended else node.min_wait_ms,
            max_wait_ms=None if self._s.ended else node.max_wait_ms,
            slots=self.slots,
        )

"""Semantic checks of a Script, each problem with file and line.

Checked: languages and translations, unknown intents / expects / outcomes / actions, undefined lines, slots,
template placeholders and expression names, exactly one move per rule, unreachable nodes, dead ends
(nodes from which no ending can be reached), required global handlers, required disclosures as fixed lines
before anything else, right-party verification before any mention of the debt (collections), the US
mini-Miranda before any mention of the debt (en collections), stop_calling ending with record_opt_out,
and a limited-content voicemail (no debt at all).
"""
from __future__ import annotations

from collections import deque

from dialogs.expr import ExprError, parse
from dialogs.expr import names as expr_names
from dialogs.policy import SILENCE_LINE, SORRY_LINE
from dialogs.script import DEBT_FIELDS, ENTITY_NAMES, LANGUAGES, PLACEHOLDER, SLOT_TYPES, Problem, Rule, Script
from dialogs.types import ACTION_KINDS, OUTCOMES
from nlu.types import EXPECTS, intent_names, must_not_miss

REQUIRED_GLOBALS = ("stop_calling", "wrong_number", "third_party", "request_human", "complaint", "ask_if_robot",
                    "ask_who_calling", "repeat_request", "scam_suspicion")
NEVER_SPOKEN = ("id_last4",)


class _Checker:
    def __init__(self, script: Script):
        self.s = script
        self.problems: list[Problem] = []
        self.intents = set(intent_names())
        self.known = script.names()

    def err(self, message: str, *path: str) -> None:
        self.problems.append(Problem(self.s.where(*path), message, self.s.id))

    # ------------------------------------------------------------ pieces
    def expr(self, source: str, *path: str) -> None:
        try:
            parse(source)
            unknown = expr_names(source) - set(self.known) - {"None", "True", "False"}
        except ExprError as exc:
            self.err(str(exc), *path)
            return
        if unknown:
            self.err(f"expression {source!r} uses undefined names {sorted(unknown)}", *path)

    def line_ref(self, key: str, *path: str) -> None:
        if key not in self.s.lines:
            self.err(f"line {key!r} is not defined under `lines:`", *path)

    def node_ref(self, name: str | None, what: str, *path: str) -> None:
        if name is not None and name not in self.s.nodes:
            self.err(f"{what} {name!r} is not a node", *path)

    def actions(self, specs: list, *path: str) -> None:
        for spec in specs:
            if spec.kind not in ACTION_KINDS:
                self.err(f"unknown action {spec.kind!r} (known: {list(ACTION_KINDS)})", *path)
            for value in spec.params.values():
                if isinstance(value, str) and value.startswith("="):
                    self.expr(value[1:], *path)

    def assignments(self, sets: dict[str, str], *path: str) -> None:
        for slot, source in sets.items():
            if slot not in self.s.slots:
                self.err(f"sets undefined slot {slot!r} (declare it under `slots:`)", *path)
            self.expr(source, *path)

    def rule(self, rule: Rule, pass_through: bool, *path: str) -> None:
        for intent in rule.intent:
            if intent not in self.intents:
                self.err(f"unknown intent {intent!r} (see nlu/data/intents.yaml)", *path)
        if rule.when:
            self.expr(rule.when, *path)
        for key in rule.say:
            self.line_ref(key, *path)
        if pass_through:
            if rule.to is None or rule.moves != 1:
                self.err("a `next` rule needs `to` (and nothing else to move)", *path)
        elif rule.moves != 1:
            self.err("a rule needs exactly one of to / stay / retry / repeat", *path)
        self.node_ref(rule.to, "target", *path)
        self.node_ref(rule.then, "then", *path)
        if rule.max is not None and not (rule.stay or rule.repeat):
            self.err("`max` only applies to staying rules (stay / repeat)", *path)
        self.assignments(rule.set, *path)
        self.actions(rule.actions, *path)

    # ------------------------------------------------------------ whole script
    def run(self) -> list[Problem]:
        s = self.s
        if s.language not in s.languages or any(lang not in LANGUAGES for lang in s.languages):
            self.err(f"languages must be among {list(LANGUAGES)}", "languages")
        self.node_ref(s.start, "start", "start")
        self.node_ref(s.fallback, "fallback", "fallback")
        if s.fallback in s.nodes and not s.nodes[s.fallback].end:
            self.err("the fallback node must be an ending (end: true)", "fallback")
        for key in (SORRY_LINE, SILENCE_LINE):
            if key not in s.lines:
                self.err(f"line {key!r} is required (said on unclear answers / silence)", "lines")
        for digit, intent in s.dtmf.items():
            if intent not in self.intents:
                self.err(f"dtmf {digit!r} maps to unknown intent {intent!r}", "dtmf")
        self.check_slots()
        self.check_lines()
        self.check_nodes()
        for i, rule in enumerate(s.globals):
            self.rule(rule, False, "globals", *(rule.intent[:1] or [str(i)]))
        if s.kind == "conversation":
            self.check_globals()
        self.check_graph()
        self.check_compliance()
        return self.problems

    def check_slots(self) -> None:
        for name, spec in self.s.slots.items():
            if spec.type not in SLOT_TYPES:
                self.err(f"slot {name!r} has unknown type {spec.type!r} (known: {list(SLOT_TYPES)})", "slots", name)
            if spec.init:
                self.expr(spec.init, "slots", name)

    def check_lines(self) -> None:
        lang = self.s.language
        for key, spec in self.s.lines.items():
            path = ("lines", key)
            if spec.only and any(x not in LANGUAGES for x in spec.only):
                self.err(f"line {key!r}: `only` must list languages among {list(LANGUAGES)}", *path)
            if spec.only and lang not in spec.only:
                continue
            text = spec.text(lang)
            if not text or not text.strip():
                self.err(f"line {key!r} has no {lang} text (missing translation)", *path)
                continue
            holders = PLACEHOLDER.findall(text)
            if spec.disclosure and holders:
                self.err(f"disclosure line {key!r} must be fixed text, not a template", *path)
            for name in holders:
                if name in NEVER_SPOKEN:
                    self.err(f"line {key!r} would speak {name!r}, which must never be said", *path)
                elif name not in self.known:
                    self.err(f"line {key!r} uses undefined placeholder {{{name}}}", *path)
            stray = text.replace("{", "").replace("}", "") != text and not holders
            if stray:
                self.err(f"line {key!r} has braces that are not a {{placeholder}}", *path)
            if lang == "zh" and _traditional(text):
                self.err(f"line {key!r} has traditional characters; use simplified Chinese", *path)

    def check_nodes(self) -> None:
        expects = set(EXPECTS)
        for name, node in self.s.nodes.items():
            path = ("nodes", name)
            for key in [*node.say, *(node.reprompt or [])]:
                self.line_ref(key, *path)
            if node.expect is not None and node.expect not in expects:
                self.err(f"unknown expect {node.expect!r} (known: {sorted(expects)})", *path)
            for slot, entity in node.capture.items():
                if slot not in self.s.slots:
                    self.err(f"captures into undefined slot {slot!r}", *path)
                if entity not in ENTITY_NAMES:
                    self.err(f"unknown entity {entity!r} (known: {list(ENTITY_NAMES)})", *path)
            self.assignments(node.set, *path)
            self.actions(node.actions, *path)
            self.node_ref(node.on_exhausted, "on_exhausted", *path)
            if node.end:
                if node.outcome not in OUTCOMES:
                    self.err(f"an ending needs an outcome from {list(OUTCOMES)}, got {node.outcome!r}", *path)
                if node.rules or node.next:
                    self.err("an ending cannot have rules or next", *path)
                continue
            if node.outcome is not None:
                self.err("only an ending (end: true) may set an outcome", *path)
            if node.next is not None:
                for rule in node.next:
                    self.rule(rule, True, *path, "next")
                if not node.next or node.next[-1].when:
                    self.err("the last `next` rule must have no `when` (otherwise the call falls to the fallback)",
                             *path, "next")
                if node.rules:
                    self.err("a pass-through node (next) cannot also wait for rules", *path)
                continue
            if not node.say and not node.reprompt:
                self.err("a waiting node must say something", *path)
            for rule in node.rules:
                self.rule(rule, False, *path, "on")

    def check_globals(self) -> None:
        handled = {i for r in self.s.globals for i in r.intent}
        required = set(REQUIRED_GLOBALS) | set(must_not_miss())
        if self.s.purpose != "collections":
            required.discard("dispute_debt")
        for intent in sorted(required - handled):
            self.err(f"no global handler for {intent!r} (required at every node)", "globals")
        for rule in self.s.globals:
            if "stop_calling" in rule.intent:
                target = self.s.nodes.get(rule.to or "")
                kinds = [a.kind for a in target.actions] if target else []
                if not target or not target.end or target.outcome != "opted_out" or "record_opt_out" not in kinds:
                    self.err("stop_calling must go to an ending with outcome opted_out and action record_opt_out",
                             "globals", "stop_calling")

    # ------------------------------------------------------------ graph
    def own_edges(self, name: str) -> set[str]:
        """Where a node's own rules lead (no global handlers, no implicit fallback): the script's progress."""
        node = self.s.nodes[name]
        if node.end:
            return set()
        rules = node.next if node.next is not None else node.rules
        out = {t for r in rules for t in (r.to, r.then) if t}
        if node.on_exhausted:
            out.add(node.on_exhausted)
        return {t for t in out if t in self.s.nodes}

    def edges(self, name: str, verified: bool | None = None) -> set[str]:
        """Nodes reachable in one step from `name`; with `verified` set, only rules that apply in that state."""
        node = self.s.nodes[name]
        if node.end:
            return set()

        def ok(rule: Rule) -> bool:
            return verified is None or rule.verified is None or rule.verified == verified

        out: set[str] = set()
        rules = node.next if node.next is not None else node.rules
        for rule in rules:
            if ok(rule):
                out.update(t for t in (rule.to, rule.then) if t)
        if node.next is None:
            for rule in self.s.globals:
                if ok(rule):
                    out.update(t for t in (rule.to, rule.then) if t)
            out.add(node.on_exhausted or self.s.fallback)
        out.add(self.s.fallback)  # visit and turn limits
        return {t for t in out if t in self.s.nodes}

    def check_graph(self) -> None:
        if self.s.start not in self.s.nodes:
            return
        seen = _reach(self.s.start, self.edges)
        for name in self.s.nodes:
            if name not in seen:
                self.err(f"node {name!r} is unreachable from start {self.s.start!r}", "nodes", name)
        ends = {n for n, node in self.s.nodes.items() if node.end}
        reverse: dict[str, set[str]] = {n: set() for n in self.s.nodes}
        for name in self.s.nodes:
            for target in self.own_edges(name):
                reverse[target].add(name)
        can_end = _reach_many(ends, lambda n: reverse[n])
        for name in sorted(seen):
            if name not in can_end:
                self.err(f"node {name!r} is a dead end: its own rules never lead to an ending "
                         "(only global handlers and the fallback would end the call)", "nodes", name)
        for name, node in self.s.nodes.items():  # pass-through loops
            if node.next is not None and name in _reach_many(
                    {r.to for r in node.next if r.to in self.s.nodes},
                    lambda n: {r.to for r in (self.s.nodes[n].next or []) if r.to in self.s.nodes}):
                self.err(f"pass-through node {name!r} loops back to itself without waiting", "nodes", name)

    # ------------------------------------------------------------ compliance
    def debt_line(self, key: str) -> bool:
        spec = self.s.lines.get(key)
        if spec is None:
            return False
        debt_names = set(DEBT_FIELDS) | {n for n, sl in self.s.slots.items() if sl.debt}
        text = spec.text(self.s.language) or ""
        return spec.debt or bool(set(PLACEHOLDER.findall(text)) & debt_names)

    def says_debt(self, keys: list[str]) -> bool:
        return any(self.debt_line(k) for k in keys)

    def check_compliance(self) -> None:
        s = self.s
        if s.start not in s.nodes:
            return
        disclosures = self.opening_disclosures()
        needed = ["automated"] if s.kind == "voicemail" else ["automated", "recorded"]
        for kind in needed:
            if kind not in disclosures:
                self.err(f"the opening must say a fixed `disclosure: {kind}` line", "nodes", s.start)
        if s.kind == "voicemail":
            for key in s.lines:
                if self.debt_line(key):
                    self.err(f"a limited-content voicemail must not mention the debt (line {key!r})", "lines", key)
            return
        if s.purpose != "collections":
            return
        # nothing about the debt before right-party verification
        verified_nodes = {n for n, node in s.nodes.items() if node.marks_verified}
        if not verified_nodes:
            self.err("collections scripts need a node with `marks_verified: true` (right-party verification)",
                     "nodes")
        self.debt_before(verified_nodes, "right-party verification")
        for i, rule in enumerate(s.globals):
            if rule.verified is not True and self.says_debt(rule.say):
                self.err("a global handler that mentions the debt needs `verified: true`",
                         "globals", *(rule.intent[:1] or [str(i)]))
        if s.language == "en":
            miranda = {n for n, node in s.nodes.items()
                       if any(s.lines.get(k) is not None and s.lines[k].disclosure == "mini_miranda"
                              for k in node.say)}
            if not miranda:
                self.err("en collections scripts must say the mini-Miranda line (disclosure: mini_miranda)", "nodes")
            self.debt_before(miranda, "the mini-Miranda disclosure")

    def debt_before(self, gates: set[str], what: str) -> None:
        """Error for every node or rule that mentions the debt and can be reached without passing `gates`."""
        s = self.s
        reach = _reach(s.start, lambda n: set() if n in gates else self.edges(n, verified=False))
        for name in sorted(reach - gates):
            node = s.nodes[name]
            if self.says_debt(node.say) or self.says_debt(node.reprompt or []):
                self.err(f"node {name!r} mentions the debt before {what}", "nodes", name)
            for rule in [*node.rules, *(node.next or [])]:
                if rule.verified is not True and self.says_debt(rule.say):
                    self.err(f"a rule of node {name!r} mentions the debt before {what}", "nodes", name)

    def opening_disclosures(self) -> set[str]:
        """Disclosure kinds said before the first wait (following unconditional pass-throughs)."""
        out: set[str] = set()
        name: str | None = self.s.start
        seen: set[str] = set()
        while name and name in self.s.nodes and name not in seen:
            seen.add(name)
            node = self.s.nodes[name]
            for key in node.say:
                spec = self.s.lines.get(key)
                if spec is not None and spec.disclosure and not PLACEHOLDER.search(spec.text(self.s.language) or ""):
                    out.add(spec.disclosure)
            name = node.next[0].to if node.next and len(node.next) == 1 else None
        return out


def _reach(start: str, step) -> set[str]:
    return _reach_many({start}, step)


def _reach_many(starts: set[str], step) -> set[str]:
    seen = set(starts)
    queue = deque(starts)
    while queue:
        for nxt in step(queue.popleft()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _traditional(text: str) -> bool:
    try:
        import zhconv
    except ImportError:  # pragma: no cover - zhconv is a declared dependency
        return False
    return zhconv.convert(text, "zh-cn") != text


def validate_script(script: Script) -> list[Problem]:
    """Every semantic problem of one materialised script (empty list: the script may load)."""
    return _Checker(script).run()

"""The YAML script format: pydantic schema, a line-aware loader, `extends` and A/B variants.

A flow file (scripts_library/<purpose>/<name>.yaml) holds one conversation flow for every language it
declares, plus variant overrides; it materialises one `Script` per (language, variant), with the id
`{purpose}_{bucket|product}_{lang}_{variant}`. Files starting with `_` are fragments other files extend.
See dialogs/README.md for the format. Validation beyond the schema lives in dialogs/validate.py.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

LANGUAGES = ("zh", "en")
ENTITY_NAMES = ("amount", "date", "time", "last4")
SLOT_TYPES = ("amount", "date", "time", "int", "number", "text", "yes_no")
DISCLOSURES = ("automated", "recorded", "mini_miranda")
# Account fields a script may read, with the type used to speak them.
ACCOUNT_FIELDS: dict[str, str] = {
    "name": "text", "language": "text", "balance": "amount", "currency": "text", "due_date": "date",
    "days_past_due": "int", "product": "text", "id_last4": "text", "lender": "text", "limit": "amount",
    "jurisdiction": "text", "promise_amount": "amount", "promise_date": "date",
}
# Account fields whose mention reveals the debt (never before right-party verification).
DEBT_FIELDS = ("balance", "due_date", "days_past_due", "promise_amount", "promise_date")
# Names every expression may read besides slots, account fields and params.
BUILTIN_NAMES = ("today", "verified", "captured", "intent", "entity_amount", "entity_date", "entity_time",
                 "entity_last4")
PLACEHOLDER = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActionSpec(_Strict):
    kind: str
    # literal values, or "=expression" evaluated against slots/account/params when the action fires
    params: dict[str, Any] = Field(default_factory=dict)


def _actions(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        value = [value]
    return [{"kind": v} if isinstance(v, str) else v for v in value]


def _str_list(value: Any) -> Any:
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


class Rule(_Strict):
    """One way out of a node (or a global handler): match, then say / set / act, then move or stay."""

    intent: list[str] = Field(default_factory=list)  # empty: any utterance (checked after the global handlers)
    when: str | None = None  # expression over slots, account, params, entities
    verified: bool | None = None  # True: only after right-party verification; False: only before
    say: list[str] = Field(default_factory=list)  # line ids said before moving (or as the answer when staying)
    to: str | None = None  # next node
    stay: bool = False  # answer with `say`, then re-ask the current node
    retry: bool = False  # a failed attempt: say `say`, re-ask; after max_retries -> on_exhausted
    repeat: bool = False  # say again what the agent said last
    set: dict[str, str] = Field(default_factory=dict)  # slot -> expression
    actions: list[ActionSpec] = Field(default_factory=list)
    max: int | None = None  # a staying rule used more than `max` times in a call goes `then`
    then: str | None = None

    _intent = field_validator("intent", mode="before")(classmethod(lambda cls, v: _str_list(v)))
    _say = field_validator("say", mode="before")(classmethod(lambda cls, v: _str_list(v)))
    _acts = field_validator("actions", mode="before")(classmethod(lambda cls, v: _actions(v)))

    @property
    def moves(self) -> int:
        return sum((self.to is not None, self.stay, self.retry, self.repeat))


def _rules(value: Any) -> Any:
    """`on`/`globals` sugar: {intent: "node"} | {intent: {rule}} | {intent: [rules]} -> list of rules."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    out: list[Any] = []
    for intent, spec in value.items():
        items = spec if isinstance(spec, list) else [spec]
        for item in items:
            rule = {"to": item} if isinstance(item, str) else dict(item or {})
            rule.setdefault("intent", [i.strip() for i in str(intent).split(",")])
            out.append(rule)
    return out


class Node(_Strict):
    say: list[str] = Field(default_factory=list)
    reprompt: list[str] | None = None  # what a retry or a stay re-asks (default: say)
    expect: str | None = None  # nlu.types.EXPECTS hint for the next utterance
    eos_silence_ms: int | None = None  # silence that ends an answer the turn-taker is unsure of
    min_wait_ms: int | None = None  # earliest answer to a complete answer (agent/turn_taking.py)
    max_wait_ms: int | None = None  # longest wait on an incomplete one (digits read in pieces, "I can pay…")
    capture: dict[str, str] = Field(default_factory=dict)  # slot -> entity (amount|date|time|last4)
    set: dict[str, str] = Field(default_factory=dict)  # slot -> expression, on entry
    routes: list[Rule] = Field(default_factory=list)  # ordered rules, before `on`
    on: list[Rule] = Field(default_factory=list)  # by intent
    next: list[Rule] | None = None  # pass-through: go on at once (first rule whose `when` holds)
    end: bool = False
    outcome: str | None = None
    actions: list[ActionSpec] = Field(default_factory=list)  # fired on entry
    marks_verified: bool = False  # entering this node means right-party verification passed
    max_retries: int | None = None
    on_exhausted: str | None = None

    _say = field_validator("say", mode="before")(classmethod(lambda cls, v: _str_list(v)))
    _reprompt = field_validator("reprompt", mode="before")(
        classmethod(lambda cls, v: None if v is None else _str_list(v)))
    _on = field_validator("on", mode="before")(classmethod(lambda cls, v: _rules(v)))
    _acts = field_validator("actions", mode="before")(classmethod(lambda cls, v: _actions(v)))

    @field_validator("next", mode="before")
    @classmethod
    def _next(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [{"to": value}]
        return value

    @property
    def rules(self) -> list[Rule]:
        return [*self.routes, *self.on]

    @property
    def waits(self) -> bool:
        return not self.end and self.next is None


class SlotSpec(_Strict):
    type: str = "text"
    init: str | None = None  # expression evaluated at call start
    debt: bool = False  # speaking this slot reveals the debt
    report: bool = True  # False: kept out of the call's reported slots (e.g. the ID digits the callee said)


class LineSpec(_Strict):
    zh: str | None = None
    en: str | None = None
    disclosure: Literal["automated", "recorded", "mini_miranda"] | None = None
    debt: bool = False  # mentions the debt: only after right-party verification
    only: list[str] | None = None  # languages this line exists in (e.g. the US mini-Miranda: [en])

    def text(self, lang: str) -> str | None:
        return getattr(self, lang, None)

    def placeholders(self, lang: str) -> list[str]:
        return PLACEHOLDER.findall(self.text(lang) or "")


class Script(_Strict):
    id: str
    version: int = 1
    language: str
    purpose: Literal["collections", "telesales"]
    bucket: str | None = None
    product: str | None = None
    variant: str
    kind: Literal["conversation", "voicemail"] = "conversation"
    description: str = ""
    languages: list[str] = Field(default_factory=lambda: list(LANGUAGES))  # of the flow file
    params: dict[str, Any] = Field(default_factory=dict)
    slots: dict[str, SlotSpec] = Field(default_factory=dict)
    lines: dict[str, LineSpec] = Field(default_factory=dict)
    nodes: dict[str, Node]
    globals: list[Rule] = Field(default_factory=list)
    dtmf: dict[str, str] = Field(default_factory=lambda: {"1": "affirm", "2": "deny", "0": "request_human"})
    start: str
    fallback: str
    source: str = ""
    locs: dict[str, str] = Field(default_factory=dict, exclude=True)  # dotted path -> "file:line"

    _globals = field_validator("globals", mode="before")(classmethod(lambda cls, v: _rules(v)))

    def line_id(self, key: str) -> str:
        return f"{self.id}.{key}"

    def where(self, *path: str) -> str:
        """`file:line` of the most specific known location of a dotted path (follows `extends`)."""
        parts = [p for p in path if p]
        while parts:
            key = ".".join(parts)
            if key in self.locs:
                return self.locs[key]
            parts.pop()
        return f"{self.source}:1"

    def names(self) -> dict[str, str]:
        """Every name a template or expression may use, with its type."""
        out = dict(ACCOUNT_FIELDS)
        out.update({k: ("number" if isinstance(v, (int, float)) else "text") for k, v in self.params.items()})
        out.update({k: s.type for k, s in self.slots.items()})
        out.update({"today": "date", "verified": "yes_no", "captured": "yes_no", "intent": "text",
                    "entity_amount": "amount", "entity_date": "date", "entity_time": "time",
                    "entity_last4": "text"})
        return out


@dataclass
class Problem:
    where: str  # file:line
    message: str
    script_id: str = ""

    def __str__(self) -> str:
        prefix = f"[{self.script_id}] " if self.script_id else ""
        return f"{self.where}: {prefix}{self.message}"


class ScriptError(Exception):
    """A script that does not load or does not validate. `problems` lists every error with file and line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# ---------------------------------------------------------------- line-aware YAML
class _LineLoader(yaml.SafeLoader):
    """Records the line of every mapping key, so errors can say file:line."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    mapping = _LocDict()
    explicit: set[str] = set()
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            if key_node.value in explicit:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key_node.value!r}",
                                                        key_node.start_mark)
            explicit.add(key_node.value)
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode):
            key = key_node.value  # YAML 1.1 reads the key `on:` as True; a script key is always a name
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = key_node.start_mark.line + 1
    return mapping


class _LocDict(dict):
    def __init__(self, *a: Any, **kw: Any):
        super().__init__(*a, **kw)
        self.lines: dict[Any, int] = {}


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)  # type: ignore[arg-type]


def _locs(doc: Any, prefix: str = "") -> dict[str, int]:
    out: dict[str, int] = {}
    if isinstance(doc, _LocDict):
        for key, value in doc.items():
            path = f"{prefix}{key}"
            out[path] = doc.lines.get(key, 1)
            out.update(_locs(value, path + "."))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out.update(_locs(value, f"{prefix}{i}."))
    return out


def _read_yaml(path: Path) -> _LocDict:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 (SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise ScriptError([Problem(f"{path}:{line}", f"invalid YAML: {exc}")]) from None
    if not isinstance(doc, _LocDict):  # (every mapping is loaded as a _LocDict)
        raise ScriptError([Problem(f"{path}:1", "a script file must be a YAML mapping")])
    return doc


def _merge(base: Any, override: Any) -> Any:
    """Deep merge of mappings; anything else in `override` replaces `base`."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            if value is None and key in base and isinstance(base[key], dict):
                del out[key]  # `node: null` in an override removes it (e.g. a variant dropping a node)
                continue
            out[key] = _merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


_BODY_KEYS = ("params", "slots", "lines", "nodes", "globals", "dtmf", "start", "fallback")


# a base file is a sibling fragment: `_common.yaml`; never a path
BASE_NAME = re.compile(r"^_[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.ya?ml$")


def base_file_of(path: Path, extends: Any, where: str) -> Path:
    """The file `extends:` names, checked before anything is opened: a `_name.yaml` fragment in the
    flow file's own folder. Anything else (a path, `..`, a link out of the folder) is refused, and
    the error never quotes what lies outside."""
    name = extends if isinstance(extends, str) else ""
    if not BASE_NAME.match(name):
        raise ScriptError([Problem(where, "extends must name a base fragment of the library "
                                          "such as _common.yaml (no folders)")])
    folder = path.parent.resolve()
    base_path = (folder / name).resolve()
    if base_path.parent != folder or not base_path.is_file():
        raise ScriptError([Problem(where, f"extends {name}: no such base fragment")])
    return base_path


def load_flow_file(path: Path) -> list[Script]:
    """Every Script a flow file defines (one per language and variant); raise ScriptError when it is invalid.

    Only the schema is checked here; dialogs.validate.validate_script does the semantic checks.
    """
    path = Path(path)
    doc = _read_yaml(path)
    flow = doc.get("flow")
    if not isinstance(flow, dict):
        raise ScriptError([Problem(f"{path}:1", "missing `flow:` metadata (purpose, bucket|product, languages)")])
    body: dict[str, Any] = {}
    locs: dict[str, tuple[str, int]] = {}
    if doc.get("extends"):
        base_path = base_file_of(path, doc["extends"], f"{path}:{doc.lines.get('extends', 1)}")
        base = _read_yaml(base_path)
        body = {k: base[k] for k in _BODY_KEYS if k in base}
        locs.update({k: (str(base_path), v) for k, v in _locs(base).items()})
    own = {k: doc[k] for k in _BODY_KEYS if k in doc}
    body = _merge(body, own)
    locs.update({k: (str(path), v) for k, v in _locs(doc).items() if not k.startswith("variants.")})
    unknown = set(doc) - set(_BODY_KEYS) - {"flow", "extends", "variants"}
    if unknown:
        raise ScriptError([Problem(f"{path}:{doc.lines.get(sorted(unknown)[0], 1)}",
                                   f"unknown top-level keys: {sorted(unknown)}")])
    variants = doc.get("variants") or {"a": {}}
    purpose = flow.get("purpose")
    group = flow.get("bucket") or flow.get("product")
    languages = flow.get("languages") or list(LANGUAGES)
    scripts: list[Script] = []
    problems: list[Problem] = []
    for variant, override in variants.items():
        override = override or {}
        merged = _merge(body, {k: v for k, v in override.items() if k in _BODY_KEYS})
        vlocs = dict(locs)
        prefix = f"variants.{variant}."
        vlocs.update({k[len(prefix):]: (str(path), v) for k, v in _locs(doc).items() if k.startswith(prefix)})
        for lang in languages:
            script_id = f"{purpose}_{str(group).lower()}_{lang}_{str(variant).lower()}"
            data = {
                "id": script_id, "version": flow.get("version", 1), "language": lang, "purpose": purpose,
                "bucket": flow.get("bucket"), "product": flow.get("product"), "variant": str(variant).lower(),
                "kind": flow.get("kind", "conversation"),
                "description": override.get("description", flow.get("description", "")),
                "languages": languages, "source": str(path), **merged,
            }
            try:
                script = Script.model_validate(data)
            except ValidationError as exc:
                for err in exc.errors():
                    dotted = [str(p) for p in err["loc"]]
                    where = _where(vlocs, dotted, path)
                    problems.append(Problem(where, f"{'.'.join(dotted)}: {err['msg']}", script_id))
                continue
            script.locs = {k: f"{f}:{line}" for k, (f, line) in vlocs.items()}
            scripts.append(script)
    if problems:
        raise ScriptError(problems)
    return scripts


def _where(locs: dict[str, tuple[str, int]], dotted: list[str], path: Path) -> str:
    parts = list(dotted)
    while parts:
        key = ".".join(parts)
        if key in locs:
            f, line = locs[key]
            return f"{f}:{line}"
        parts.pop()
    return f"{path}:1"


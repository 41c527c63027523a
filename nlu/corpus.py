"""Loading the NLU corpus (nlu/data) and the context rules that relabel short replies."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from nlu.types import intent_names

DATA_DIR = Path(__file__).with_name("data")
TRAIN_DIR = DATA_DIR / "train"
HELDOUT = DATA_DIR / "heldout.yaml"
CONTEXT_FILE = DATA_DIR / "context.yaml"


class _TextLoader(yaml.SafeLoader):
    """SafeLoader that keeps yes/no/on/off as text: they are utterances here, not booleans."""


_TextLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(path: Path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_TextLoader)


@dataclass(frozen=True)
class Example:
    text: str
    lang: str
    intent: str
    context: str | None = None


def load_train(train_dir: Path = TRAIN_DIR) -> list[Example]:
    """Every training utterance once (a repeat across corpus files is dropped)."""
    names = set(intent_names())
    out: list[Example] = []
    seen: set[tuple[str, str, str]] = set()
    for f in sorted(train_dir.glob("*.yaml")):
        data = load_yaml(f) or {}
        for intent, by_lang in data.items():
            if intent not in names:
                raise ValueError(f"{f.name}: unknown intent {intent!r}")
            for lang in ("zh", "en"):
                for text in by_lang.get(lang, []) or []:
                    if (str(text), lang, intent) not in seen:
                        seen.add((str(text), lang, intent))
                        out.append(Example(str(text), lang, intent))
    return out


@lru_cache(maxsize=1)
def train_examples() -> tuple[Example, ...]:
    """The training corpus as `load_train` reads it, read once per process: the call path's warm-up builds the
    answer endings and the trailing-word lexicon from it."""
    return tuple(load_train())


def load_jsonl(path: Path) -> list[Example]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        d = json.loads(line)
        out.append(Example(d["text"], d.get("lang", "en"), d["intent"], d.get("context")))
    return out


def load_heldout(path: Path = HELDOUT) -> list[Example]:
    """The held-out split: per-intent utterances (context 'open') plus context-dependent rows."""
    data = load_yaml(path)
    out: list[Example] = []
    for intent, by_lang in (data.get("intents") or {}).items():
        for lang in ("zh", "en"):
            out.extend(Example(str(t), lang, intent) for t in by_lang.get(lang) or [])
    for ctx, lang, text, intent in data.get("with_context") or []:
        out.append(Example(str(text), lang, intent, ctx))
    return out


def context_rules() -> dict[str, dict[str, str]]:
    """{context: {generic_intent: specific_intent}}, e.g. identity: {affirm: confirm_identity}."""
    data = yaml.safe_load(CONTEXT_FILE.read_text(encoding="utf-8"))
    return {ctx: dict(m) for ctx, m in (data.get("rules") or {}).items()}


def short_reply_rules() -> dict[str, dict[str, str]]:
    data = yaml.safe_load(CONTEXT_FILE.read_text(encoding="utf-8"))
    return {ctx: dict(m) for ctx, m in (data.get("short_replies") or {}).items()}


def is_short_reply(normalized_text: str) -> bool:
    cjk = sum(1 for c in normalized_text if "\u4e00" <= c <= "\u9fff")
    if cjk:
        return cjk <= 4 and len(normalized_text.split()) <= 2
    return len(normalized_text.split()) <= 3


def resolve(intent: str, context: str | None, rules: dict[str, dict[str, str]] | None = None) -> str:
    rules = context_rules() if rules is None else rules
    return rules.get(context or "open", {}).get(intent, intent)

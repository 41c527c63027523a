"""High-recall second check for the must-not-miss intents (patterns in both languages).

The lexicon is data (nlu/data/guard.yaml); this module compiles it and reports which
must-not-miss intents an utterance triggers. classify() merges the hits with the model.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

GUARD_FILE = Path(__file__).with_name("data") / "guard.yaml"


LangPatterns = dict[str, list[re.Pattern[str]]]  # "zh" / "en" -> compiled patterns


def compile_by_lang(by_lang: dict[str, list[str] | None]) -> LangPatterns:
    """One lexicon entry's patterns ({"zh": [...], "en": [...]}, either may be missing), compiled."""
    return {lang: [re.compile(p) for p in (by_lang.get(lang) or [])] for lang in ("zh", "en")}


def matches(patterns: LangPatterns, normalized_text: str, compact: str | None = None) -> bool:
    """Do any of the patterns match? Mandarin ones run on the text without spaces (`compact`, derived when not
    given), English ones on the normalised text; both languages' run whatever the call's language (code-mixing)."""
    compact = normalized_text.replace(" ", "") if compact is None else compact
    return any(p.search(compact) for p in patterns["zh"]) or any(p.search(normalized_text) for p in patterns["en"])


@lru_cache(maxsize=1)
def _patterns() -> dict[str, LangPatterns]:
    data = yaml.safe_load(GUARD_FILE.read_text(encoding="utf-8"))
    return {intent: compile_by_lang(by_lang) for intent, by_lang in data["patterns"].items()}


def guard_hits(normalized_text: str, lang: str) -> list[str]:
    """Must-not-miss intents whose patterns match. Both languages' patterns run (code-mixing)."""
    compact = normalized_text.replace(" ", "")
    return [intent for intent, patterns in _patterns().items() if matches(patterns, normalized_text, compact)]

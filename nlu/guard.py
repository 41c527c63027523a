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


@lru_cache(maxsize=1)
def _patterns() -> dict[str, dict[str, list[re.Pattern[str]]]]:
    data = yaml.safe_load(GUARD_FILE.read_text(encoding="utf-8"))
    out: dict[str, dict[str, list[re.Pattern[str]]]] = {}
    for intent, by_lang in data["patterns"].items():
        out[intent] = {lang: [re.compile(p) for p in (by_lang.get(lang) or [])] for lang in ("zh", "en")}
    return out


def guard_hits(normalized_text: str, lang: str) -> list[str]:
    """Must-not-miss intents whose patterns match. Both languages' patterns run (code-mixing)."""
    compact = normalized_text.replace(" ", "")
    hits = []
    for intent, by_lang in _patterns().items():
        if any(p.search(compact) for p in by_lang["zh"]) or any(p.search(normalized_text) for p in by_lang["en"]):
            hits.append(intent)
    return hits

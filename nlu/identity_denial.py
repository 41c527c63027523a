"""Is the callee saying they are not the person asked for? (the patterns are data: nlu/data/identity_denials.yaml)"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

DENIALS_FILE = Path(__file__).with_name("data") / "identity_denials.yaml"


@lru_cache(maxsize=1)
def _patterns() -> dict[str, list[re.Pattern[str]]]:
    data = yaml.safe_load(DENIALS_FILE.read_text(encoding="utf-8"))["patterns"]
    return {lang: [re.compile(p) for p in data.get(lang) or []] for lang in ("zh", "en")}


def denies_identity(normalized_text: str) -> bool:
    """True when the (nlu.text.normalize'd) reply says "not me" in either language (code-mixing)."""
    compact = normalized_text.replace(" ", "")
    return (any(p.search(compact) for p in _patterns()["zh"])
            or any(p.search(normalized_text) for p in _patterns()["en"]))

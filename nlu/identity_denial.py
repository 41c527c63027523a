"""Is the callee saying they are not the person asked for? (the patterns are data: nlu/data/identity_denials.yaml)"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from nlu.guard import LangPatterns, compile_by_lang, matches

DENIALS_FILE = Path(__file__).with_name("data") / "identity_denials.yaml"


@lru_cache(maxsize=1)
def _patterns() -> LangPatterns:
    return compile_by_lang(yaml.safe_load(DENIALS_FILE.read_text(encoding="utf-8"))["patterns"])


def denies_identity(normalized_text: str) -> bool:
    """True when the (nlu.text.normalize'd) reply says "not me" in either language (code-mixing)."""
    return matches(_patterns(), normalized_text)

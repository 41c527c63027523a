"""The general trailing words: conjunctions, prepositions, articles and possessives from two public
part-of-speech lexicons (nlu/data/trailing_words.yaml, written by tools/trailing_lexicon.py), less the words
that the NLU's training answers end with.

The hand lists of nlu/complete.py come from the issue and the turn set's dev half; these come from neither, so
they reach the conjunctions a caller uses that dev never did ("我有空，而且 …", "Yes, or …"). A lexicon word ends
an answer now and then ("What is this about?", "hold on", "我可以", "再说"): any word that ends one of the NLU's
Mandarin or English training answers is left out, so a reading that ends as callers' answers do is never held.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from nlu.text import bare_zh, words_en

LEXICON = Path(__file__).parent / "data" / "trailing_words.yaml"


@lru_cache(maxsize=1)
def _words() -> tuple[tuple[str, ...], frozenset[str]]:
    from nlu.corpus import load_yaml, train_examples

    data = load_yaml(LEXICON) or {}
    train = train_examples()
    zh_answers = [bare_zh(e.text) for e in train if e.lang == "zh"]
    en_last = {ws[-1] for e in train if e.lang == "en" and (ws := words_en(e.text))}
    zh = [str(w) for w in data.get("zh", []) if not any(a.endswith(str(w)) for a in zh_answers)]
    en = frozenset(str(w) for w in data.get("en", []) if str(w) not in en_last)
    return tuple(sorted(zh, key=len, reverse=True)), en


def trailing_zh() -> tuple[str, ...]:
    """Mandarin lexicon words no training answer ends with, longest first (built once: the call path warms it)."""
    return _words()[0]


def trailing_en() -> frozenset[str]:
    """English lexicon words no training answer ends with."""
    return _words()[1]

"""Whether Mandarin characters sound like a given word, by toneless pinyin: Whisper often writes a word it half
heard as a near-homophone ("不过" as "不关", "然后" as "盐后"), so a list of words is matched by sound as well.

Each syllable scores 2 when its toneless pinyin is the word's, 1 when it shares the initial or the final, else 0;
the characters sound like the word when at most one syllable is off by its initial or its final, and the rest
are the word's own syllables (a 2-syllable word: one syllable the same, the other half the same).
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def _syllables(chars: str) -> tuple[tuple[str, str, str], ...]:
    """(toneless pinyin, initial, final) per character; characters pypinyin cannot read keep themselves."""
    from pypinyin import Style, lazy_pinyin

    whole = lazy_pinyin(chars)
    initials = lazy_pinyin(chars, style=Style.INITIALS, strict=False)
    finals = lazy_pinyin(chars, style=Style.FINALS, strict=False)
    if not len(whole) == len(initials) == len(finals) == len(chars):  # a run that is not Hanzi stays whole
        return tuple((ch, ch, ch) for ch in chars)
    return tuple(zip(whole, initials, finals, strict=True))


def sounds_like(chars: str, word: str) -> bool:
    """True when `chars` (as many characters as `word`) sound like `word` (see the module's rule)."""
    if len(chars) != len(word) or len(word) < 2:
        return False
    score = 0
    for (said, i1, f1), (meant, i2, f2) in zip(_syllables(chars), _syllables(word), strict=True):
        if said == meant:
            score += 2
        elif (i1 and i1 == i2) or (f1 and f1 == f2):
            score += 1
    return score >= 2 * len(word) - 1

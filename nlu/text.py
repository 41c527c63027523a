"""Text normalisation shared by training and inference (ASR output in, canonical text out)."""
from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 300  # longer input is not a phone utterance: treated as garbage

_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202f\ufeff]")
_PUNCT = re.compile(r"[^\w\s$%.,'\u4e00-\u9fff]")
_SPACE = re.compile(r"\s+")
_WORDISH = re.compile(r"[A-Za-z0-9\u4e00-\u9fff]")
_NOT_WORD = re.compile(r"[\s\W_]+", re.UNICODE)
_WORD_EN = re.compile(r"[a-z0-9']+(?:-[a-z]+)?")

try:  # zhconv maps traditional characters to simplified ones (ASR sometimes emits both)
    import zhconv as _zhconv
except ImportError:  # pragma: no cover - zhconv is a declared dependency
    _zhconv = None


def strip_control(text: str) -> str:
    return _CTRL.sub(" ", text)


def normalize(text: str) -> str:
    """Lowercase, NFKC (full-width -> ASCII), simplified Chinese, no punctuation, single spaces."""
    t = unicodedata.normalize("NFKC", strip_control(text or ""))
    if _zhconv is not None and re.search(r"[\u4e00-\u9fff]", t):
        t = _zhconv.convert(t, "zh-cn")
    t = t.lower().replace("’", "'")
    t = _PUNCT.sub(" ", t)
    # keep . , only inside numbers (1,250 / 49.99); elsewhere they are punctuation
    t = re.sub(r"(?<!\d)[.,]|[.,](?!\d)", " ", t)
    return _SPACE.sub(" ", t).strip()


def is_garbage(raw: str) -> bool:
    """True for input that cannot be a callee utterance: empty, symbols/emoji only, far too long."""
    if not raw or not raw.strip():
        return True
    cleaned = strip_control(raw).strip()
    if len(cleaned) > MAX_CHARS:
        return True
    return _WORDISH.search(cleaned) is None


def has_cjk(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def bare_zh(text: str) -> str:
    """Mandarin text without spaces or punctuation: '好的，然后。' -> '好的然后'."""
    return _NOT_WORD.sub("", text)


def words_en(text: str) -> list[str]:
    """English words, lowercase, apostrophes and hyphenated words kept: "Yes, uh-huh." -> ['yes', 'uh-huh']."""
    return _WORD_EN.findall(text.strip().lower())

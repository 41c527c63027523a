"""Digits said one by one (or in small groups), as a transcript writes them, -> digit strings.

Callers read ID and card tails digit by digit: 一二三四, 幺三五七 (幺 = 1 on the phone), "yi er san si"
(pinyin, when the recogniser falls back to Latin), "one two three four", "oh nine", "double two", "four five,
six seven", "forty-five sixty-seven". Whisper writes the same answer in many shapes: "1 2 3 4", "1-2-3-4",
"1-815", "5.6.0", "566，60", "1865、1865" (a decoding loop).

`digit_runs(text, lang, lenient)` reads every run of digit *groups* separated only by spaces or light
punctuation. Groups spoken one digit at a time always join ("1 2 3 4" -> 1234). Groups of several written
digits ("45 67", "1-815") join only when `lenient` (the question asked for digits, or the caller named
them), since elsewhere "2000, 300" are two numbers. A lone written number is not a run of spoken digits:
the caller decides what it is (see last4.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.entities.numbers import ZH_DIGITS

EN_DIGIT_WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                  "six": "6", "seven": "7", "eight": "8", "nine": "9", "to": "2", "too": "2", "for": "4",
                  "won": "1", "ate": "8", "niner": "9"}
HOMOPHONE_DIGITS = {"to", "too", "for", "won", "ate"}  # digits only inside a run
EN_TEENS = {"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
            "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19"}
EN_TENS = {"twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6", "seventy": "7", "eighty": "8",
           "ninety": "9"}
PINYIN_DIGITS = {"ling": "0", "yi": "1", "yao": "1", "er": "2", "liang": "2", "san": "3", "si": "4", "wu": "5",
                 "liu": "6", "qi": "7", "ba": "8", "jiu": "9"}
ZH_DIGIT_CHARS = "零〇洞一幺二两三四五六七八九"
ZH_UNITS_BEFORE = "十百千万亿"  # 十二, 一百五: after a unit a digit belongs to a number
ZH_UNITS_AFTER = "十百千万亿块元号月日点岁年个位"  # 两千, 五号, 三四块, 四位 (four digits): before one of these as well
COUNT_BEFORE = {"last", "final"}  # "the last four": four names how many digits, it is not one of them
_TOKEN = re.compile(rf"\d+|[a-z]+|[{ZH_DIGIT_CHARS}]+|[\s\-–—.,，、﹑·:：/]+|.", re.S)
_SEPARATOR = re.compile(r"[\s\-–—.,，、﹑·:：/]+")
# 是 (shì) and 十 (shí) differ only in tone, and Whisper writes "是一二三四" as "十一二三四" (eleven, then 2 3 4). Where
# digits were asked for, a 十 that no digit precedes and three or more digits said one by one follow is the 是
_COPULA_TEN = re.compile(rf"(?<![{ZH_DIGIT_CHARS}\d])十(?=[{ZH_DIGIT_CHARS}]{{3,}})")
# 幺 (yāo), the 1 of phone numbers, has homophones Whisper writes in its place ("摇三五七", "姚山武器"): where
# digits were asked for, one that no digit precedes and three digits follow is the 幺
_YAO_LIKE = re.compile(rf"(?<![{ZH_DIGIT_CHARS}\d])[摇腰妖邀遥姚尧瑶窑谣](?=[{ZH_DIGIT_CHARS}]{{3}})")


@dataclass
class _Group:
    digits: str
    spoken: bool  # said digit by digit (a word or a character per digit)


def digit_runs(text: str, lang: str = "en", lenient: bool = False) -> list[str]:
    """Digit strings of every run of two or more digit groups, or of digits spoken one by one, in order.
    `text` lower-cased (nlu.entities prepares it). A lone written number ("2000") is not returned."""
    if lenient and lang == "zh":
        text = _YAO_LIKE.sub("幺", _COPULA_TEN.sub("是", text))
    out: list[str] = []
    for run in _runs(text, lang):
        if lenient:
            run = _drop_echoes(run)
            joined = "".join(g.digits for g in run)
            if len(run) >= 2 or run[0].spoken or collapse_loop(joined) != joined:  # "60916091": a loop
                out.append(collapse_loop(joined))
            continue
        spoken: list[_Group] = []  # strict: only groups said one digit at a time join
        for g in run + [_Group("", False)]:
            if g.spoken:
                spoken.append(g)
                continue
            if spoken and (len(spoken) >= 2 or len(spoken[0].digits) >= 2):
                out.append(collapse_loop("".join(s.digits for s in spoken)))
            spoken = []
    return out


def _runs(text: str, lang: str) -> list[list[_Group]]:
    tokens = [m.group(0) for m in _TOKEN.finditer(text)]
    runs: list[list[_Group]] = []
    cur: list[_Group] = []
    pending: list[str] = []  # "double" / "triple"
    word = ""  # the last token before this one that is not a separator
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1] if i else ""
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        separator = _SEPARATOR.fullmatch(tok) is not None
        before, word = word, (word if separator else tok)
        if before in COUNT_BEFORE and tok in ("four", "4", "for") and not cur:
            group = None  # "the last four (are) 1 2 3": the name of the digits, not one of them
        else:
            group = _group(tok, prev, nxt, lang, bool(cur) or bool(pending),
                           tokens[i + 2] if i + 2 < len(tokens) else "")
        if group is not None:
            if pending:
                group = _Group(group.digits * (2 if pending.pop() == "double" else 3), True)
            if cur and cur[-1].digits in EN_TENS.values() and cur[-1].spoken is False and tok in EN_DIGIT_WORDS:
                cur[-1] = _Group(cur[-1].digits + group.digits, False)  # forty + five
                continue
            cur.append(group)
            continue
        if tok in ("double", "triple"):
            pending.append(tok)
            continue
        if separator or (tok == "and" and cur):
            continue
        if cur:
            runs.append(_finish(cur))
        cur, pending = [], []
    if cur:
        runs.append(_finish(cur))
    return runs


def _finish(run: list[_Group]) -> list[_Group]:
    """A bare tens word ("forty" not followed by a digit) is the number 40."""
    return [_Group(g.digits + "0", False) if g.digits in EN_TENS.values() and not g.spoken and len(g.digits) == 1
            else g for g in run]


def _group(tok: str, prev: str, nxt: str, lang: str, in_run: bool, after: str) -> _Group | None:
    if tok.isdigit():
        return _Group(tok, len(tok) == 1)
    if tok[0] in ZH_DIGIT_CHARS:
        if (prev and prev[-1] in ZH_UNITS_BEFORE) or (nxt and nxt[0] in ZH_UNITS_AFTER):
            return None  # 两千, 十二, 三四块
        if len(tok) == 1 and not _digit_next(nxt, after) and not in_run:
            return None  # 一下, 一起, 我一个人: a lone 一 is a word
        return _Group("".join(str(ZH_DIGITS[c]) for c in tok), True)
    if tok in EN_DIGIT_WORDS and (tok not in HOMOPHONE_DIGITS or in_run):
        if tok in ("o", "oh") and not in_run and not _digit_next(nxt, after):
            return None  # "oh, ok"
        return _Group(EN_DIGIT_WORDS[tok], True)
    if tok in EN_TEENS:
        return _Group(EN_TEENS[tok], False)
    if tok in EN_TENS:
        return _Group(EN_TENS[tok], False)  # completed by a following digit word, else x0 (_finish)
    if lang == "zh" and tok in PINYIN_DIGITS and (in_run or _pinyin_next(nxt, after)):
        return _Group(PINYIN_DIGITS[tok], True)
    return None


def _digit_next(nxt: str, after: str) -> bool:
    """The next token, or the one after a separator, is a digit."""
    for tok in (nxt, after if _SEPARATOR.fullmatch(nxt or "x") else ""):
        if tok and (tok.isdigit() or tok[0] in ZH_DIGIT_CHARS or tok in EN_DIGIT_WORDS):
            return True
    return False


def _pinyin_next(nxt: str, after: str) -> bool:
    return bool(_SEPARATOR.fullmatch(nxt or "x")) and after in PINYIN_DIGITS


def collapse_loop(digits: str, min_period: int = 4) -> str:
    """"60916091609" -> "6091": a string that repeats its head from the start (a decoding loop, the last
    copy possibly cut short) is that head."""
    for period in range(min_period, len(digits) // 2 + 1):
        head = digits[:period]
        if (head * (len(digits) // period + 1)).startswith(digits):
            return head
    return digits


def _drop_echoes(run: list[_Group]) -> list[_Group]:
    """A decoding loop writes the same group again ("1865、1865、1865"): keep one."""
    out: list[_Group] = []
    for g in run:
        if out and not g.spoken and len(g.digits) >= 3 and g.digits == out[-1].digits:
            continue
        out.append(g)
    return out

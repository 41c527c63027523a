"""The last four digits of an ID or phone number, written or spoken (一二三四, 幺三五七, yi er san si,
one two three four, "1 2 3 4", "1-815" at the digits question)."""
from __future__ import annotations

import re

from nlu.entities.digits import EN_DIGIT_WORDS, HOMOPHONE_DIGITS, digit_runs

__all__ = ["extract_last4", "EN_DIGIT_WORDS", "HOMOPHONE_DIGITS"]
ZH_CUE = re.compile(r"(后四位|后4位|最后四位|最后4位|末四位|末4位|尾号|尾数|后四个数|后面四位)")
EN_CUE = re.compile(r"\b(last (four|4)|ending (in|with)|ends (in|with)|digits|last digits)\b")
SKIP_WORDS = {"uh", "um", "er", "is", "are", "it's", "its", "it", "the", "my", "last", "four", "digits", "and",
              "yes", "yeah", "ok", "okay", "so", "that's", "thats", "number", "id"}


TRIPLE = re.compile(r"(\d)\1\1")


def one_copy_less(run: str) -> str | None:
    """Five digits holding one digit three times in a row are four with a doubled digit written once too often: on a
    phone line Whisper reads "nine zero zero two" as "90002" and "seven five five three" as "75553". None otherwise.
    English only: in Mandarin a leading extra digit is as likely, the copula 是 written as 四 or 十 ("是七七七一" read
    "四七七七一", whose last four are right)."""
    m = TRIPLE.search(run)
    if len(run) != 5 or m is None or TRIPLE.search(run, m.start() + 1):
        return None
    return run[:m.start()] + run[m.start() + 1:]


def written_number(text: str, digits: int) -> re.Match[str] | None:
    """The first number of exactly `digits` digits written in Arabic figures (not part of an amount, a decimal or a
    longer number)."""
    return re.search(rf"(?<![\d,.$])(\d{{{digits}}})(?![\d,])(?!\.\d)", text)


def extract_last4(text: str, lang: str, context: str | None = None) -> str | None:
    """`context` "id_last4" (the node asked for the digits) also joins written groups ("45 67", "1-815")."""
    t = text.lower()
    cue = bool(ZH_CUE.search(t) or EN_CUE.search(t)) or context == "id_last4"
    doubled = cue and lang == "en"  # a doubled digit written once too often may be read back (`one_copy_less`)
    for run in digit_runs(t, lang, lenient=cue):
        if len(run) >= 4:
            return (one_copy_less(run) if doubled else None) or run[-4:]
    five = written_number(t, 5) if doubled else None  # "It's 90002."
    fixed = one_copy_less(five.group(1)) if five else None
    if fixed:
        return fixed
    # a plain 4-digit number counts only with a cue, or when it is (nearly) all that was said
    m = written_number(t, 4)
    if m:
        rest = re.sub(r"[^a-z\u4e00-\u9fff]+", " ", t[:m.start()] + " " + t[m.end():]).split()
        rest = [w for w in rest if w not in SKIP_WORDS]
        if cue or not rest or all(re.fullmatch(r"[是的嗯啊对号码尾后四位]+", w) for w in rest):
            return m.group(1)
    return None

"""Prompt echoes: Whisper, given an initial prompt (speech/asr/prompts.py), sometimes reads it back over a
short or unclear stretch of audio ("Payment, balance, account, due date.", "滞纳金、罚息。"). Such a reading
says nothing about what the callee said, so the turn-taker must not judge it as an answer.

`strip_echo(text, prompt)` drops every clause of the reading that is mostly made of the prompt's words
(English: words; Mandarin: character bigrams, or the character of a one-character clause) and returns
what is left: "Yes. Payment, balance." -> "Yes.", "Payment, late fee work." -> "" (no reading). Digits do not
count as the prompt's words: at the ID question the prompt is made of digits and the callee's digits are the
answer. One exception (session 19): at the digits question (a prompt whose `answer` is "digits",
speech.asr.prompts.AsrPrompt; a call's domain prompt may name amounts, which a callee does say), a reading, or a
clause of it, whose digits are exactly one of the prompt's four-digit groups is that group read back. On dev,
"尾号是五一四一" was read "尾号是幺五七九。". A callee whose digits are the prompt's only waits longer: the dialog
reads the transcript anew.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from nlu.entities.digits import digit_runs
from nlu.entities.last4 import EN_CUE, ZH_CUE

# A clause is an echo when at least this share of its units is in the prompt (dev: bench turns' replay).
ECHO_SHARE = 0.6
_CLAUSE = re.compile(r"[,.!?;:，。！？；：、…]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_DIGITS_EN = {"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
_DIGITS_ZH = set("零〇一二三四五六七八九幺两")
# words an answer shares with the prompt's sentences ("This is Bright Credit." / "Yes, this is Linda.";
# "这里是…" / "王芳，是我本人。"): never counted, or "Yes, this is Linda." and "是我。" would be echoes
_ANSWER_EN = {"yes", "no", "this", "is", "it", "i", "me", "my", "a", "the", "and", "for", "of", "to"}
_ANSWER_ZH = set("我是")
# the prompt's sentences in the callee's words are no echo source: the name sentence
# (speech/asr/prompts.domain_prompt) and, at the ID question, the digits said the way callers say them ("尾号是…",
# "the last four are …": nlu.entities.last4's cues)
_ANSWER_SENTENCE = re.compile(r"^yes\b|是我本人|" + ZH_CUE.pattern + "|" + EN_CUE.pattern, re.I)


def _units(clause: str) -> list[str]:
    """English: lower-case words without a plural/verb -s; Mandarin: character bigrams (or the one character)."""
    clause = clause.lower()
    if _CJK.search(clause):
        chars = "".join(c for c in re.sub(r"[\W_]+", "", clause) if not c.isdigit() and c not in _DIGITS_ZH)
        grams = [chars] if len(chars) == 1 else [chars[i:i + 2] for i in range(len(chars) - 1)]
        return [g for g in grams if not _ANSWER_ZH & set(g)]
    words = [w for w in re.findall(r"[a-z']+", clause) if w not in _DIGITS_EN and w not in _ANSWER_EN]
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words]


def echo_share(clause: str, prompt: str) -> float:
    """Share of the clause's units found in the prompt (0 for a clause with none, e.g. digits only)."""
    said = _units(clause)
    if not said:
        return 0.0
    given: set[str] = set()
    sentences = re.split(r"(?<=[.!?。！？])", prompt)
    for part in _CLAUSE.split("".join(x for x in sentences if not _ANSWER_SENTENCE.search(x.strip()))):
        given.update(_units(part))  # a one-character clause matches a one-character clause of the prompt (喂)
    return sum(u in given for u in said) / len(said)


def said_digits(text: str) -> str:
    """The digits a reading says, spoken one by one ("幺五七九", "five seven nine two") or written ("1579")."""
    t = unicodedata.normalize("NFKC", text).lower()
    runs = digit_runs(t, "zh" if _CJK.search(t) else "en", lenient=True)
    return "".join(runs) if runs else "".join(re.findall(r"\d", t))


@lru_cache(maxsize=32)
def digit_groups(prompt: str) -> frozenset[str]:
    """The prompt's groups of four digits or more, one a sentence ("尾号是幺五七九。后四位二四六八。": 1579, 2468)."""
    return frozenset(d for part in re.split(r"(?<=[.!?。！？])", prompt) if len(d := said_digits(part)) >= 4)


def strip_echo(text: str, prompt: str | None, share: float = ECHO_SHARE) -> str:
    """The reading without its clauses that echo `prompt` ("" if nothing else is left)."""
    if not prompt or not text.strip():
        return text
    groups = digit_groups(prompt) if getattr(prompt, "answer", None) == "digits" else frozenset()
    if groups and said_digits(text) in groups:
        return ""
    clauses = [c for c in re.split(r"(?<=[,.!?;:，。！？；：、…])", text) if c.strip()]
    kept = [c for c in clauses if echo_share(_CLAUSE.sub("", c), prompt) < share
            and not (groups and said_digits(c) in groups)]
    if len(kept) == len(clauses):
        return text
    # the punctuation before a dropped clause does not end the reading ("I'll pay it next, due date.")
    return re.sub(r"[,，、;；:：]+$", "", "".join(kept).strip())


def is_echo(text: str, prompt: str | None, share: float = ECHO_SHARE) -> bool:
    """True when every clause of a non-empty reading echoes the prompt."""
    return bool(text.strip()) and not strip_echo(text, prompt, share)


def first_reading(readings: list[str], prompt: str | None, share: float = ECHO_SHARE) -> str | None:
    """The first reading (the transcript, then Whisper's other beams, best first) that is not all prompt
    echo, without its echoed clauses; None when every non-empty reading echoes the prompt ("" when there
    is none at all: nothing was heard)."""
    echoed = False
    for text in readings:
        rest = strip_echo(text, prompt, share)
        if rest.strip():
            return rest
        echoed = echoed or bool(text.strip())
    return None if echoed else ""

"""Is this answer complete? A transcript, read against what the agent just asked.

`judge(text, lang, expect, understanding)` returns a Verdict:
- complete:   the answer is whole (yes/no to a yes/no question, a name confirmation, all four ID digits,
              a date where a date was asked, a must-not-miss request) -> the agent may answer at once;
- incomplete: the callee is mid-answer (a number cut short, "I can pay…", "我下个月…", a trailing
              conjunction or filler such as and / but / 然后 / 就是 / 那个 / um) -> wait longer;
- unsure:     anything else -> the usual silence.

The word lists here were written from the issue and the dev half of the turn set only (agent/turnset.py); a
test holds every entry to a dev turn that uses it (tests/session/test_turn_taking.py). The general trailing
words (conjunctions, prepositions, articles) come from two public part-of-speech lexicons instead
(nlu/trailing_words.py, session 18).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from nlu.sounds_like import sounds_like
from nlu.text import bare_zh, words_en
from nlu.trailing_words import trailing_en, trailing_zh

COMPLETE, INCOMPLETE, UNSURE = "complete", "incomplete", "unsure"
# the reason of an unsure verdict when every reading was the ASR prompt read back (nlu/prompt_echo.py): the
# words say nothing, so the node's silence and the prosody decide (agent/turn_taking.py), never the NLU
ECHO_REASON = "prompt echo (no reading)"
DOUBT_STATE = INCOMPLETE
ASR_DOUBT_STATE = UNSURE  # a complete reading the ASR doubts waits the node's silence, moved by the prosody

# The issue's own examples, then what the dev turns use; nothing else (tests/session/test_turn_taking.py checks).
SEED_EN = {"and", "but", "um"}
SEED_ZH = ("然后", "就是", "那个")
# a turn ending in one of these goes on
TRAILING_EN = SEED_EN | {"so", "because", "uh", "well", "pay"}
TRAILING_ZH = SEED_ZH + ("嗯", "但是", "因为", "还有", "下个月", "不过")
_TRAILING_ZH_LONGEST_FIRST = tuple(sorted(TRAILING_ZH, key=len, reverse=True))
# ...unless the whole turn is one of these ("我就是": "that's me")
WHOLE_ZH = ("就是",)
# a whole turn made only of these is a hesitation, not an answer
FILLERS_EN = {"um", "uh", "well"}
FILLERS_ZH = ("嗯", "那个", "就是")
# backchannels: heard while the agent speaks, they do not take the turn (a run of them counts too: 嗯嗯, 嗯对)
BACKCHANNEL_EN = {"uh-huh", "mm-hmm", "yeah", "okay", "right"}
BACKCHANNEL_ZH = ("嗯", "对", "好的", "是的")
# what Whisper says over a bare filler or a breath (the domain prompt, a greeting); seen on dev fragments
HALLUCINATIONS = {"en": ("thank you", "this is bright credit", "this is bright", "hello"),
                  "zh": ("您好", "这是明信金融", "这里是明信金融", "喂您好")}
# words that claim the floor over the agent whatever the rest of the reading ("Wait.", "等一下。"), from dev's
# interruptions: said alone and followed by silence they were taken as a backchannel, and the agent went on
FLOOR_EN = ("wait", "hold on", "sorry")
FLOOR_ZH = ("等一下", "停一下")
BACKCHANNEL_MAX_WORDS = {"en": 2, "zh": 3}  # a short affirmation (by the NLU) is a backchannel too
# Voiced audio per syllable of the reading above which words are missing from it: Whisper drops a word it
# cannot read (a trailing "and" / "但是" heard as "Yes." / "不用了。"). On dev, the final readings of complete
# answers run 250-560 ms (en) and 320-620 ms (zh) per syllable (5th-95th percentile); 0 turns the rule off.
MISSING_WORDS_MS_PER_SYLLABLE = {"en": 600, "zh": 650}
# Whisper's own doubt about a reading (no word list, so it reaches conjunctions no list holds): a first part
# misheard as a whole answer ("可是" read as another word, "Yes, and" read "Yes.") is decoded with a lower mean
# token log-probability and, in English, a higher no-speech probability than a whole answer's final reading.
# A complete verdict on such a reading waits like an unsure one (agent/turn_taking.py). Chosen on dev
# (session 9, bench turns' recorded pauses: of the dev readings that words and NLU judge complete, these catch
# 16 of 23 zh / 5 of 6 en first parts and delay 10 of 48 zh / 4 of 29 en whole answers); None turns one off.
LOW_LOGPROB = {"en": -1.0, "zh": -1.0}
HIGH_NO_SPEECH = {"en": 0.3, "zh": 0.3}

_ZH_DIGIT = "零〇一二三四五六七八九幺两"
_ZH_NUMERAL = _ZH_DIGIT + "十百千万"
_PUNCT_END = re.compile(r"[,，、…]+$|\.\.\.$|—$|-$")
# intents that answer any question (or end the call) on their own
_ANY = {"wrong_number", "third_party", "stop_calling", "complaint", "request_human", "dispute_debt",
        "already_paid", "ask_if_robot", "ask_who_calling", "not_interested", "call_back_later", "scam_suspicion"}
# Refusals: in conversation a "no" (a dispreferred answer) usually comes with an account of it ("No, because…",
# "不用了，因为…"), while a "yes" stands alone; `refusal_wait_ms` (agent/turn_taking.py) lets one wait longer.
REFUSALS = frozenset({"deny", "cannot_pay", "not_interested"})
_YES_NO = {"affirm", "deny", "confirm_identity", "promise_to_pay", "cannot_pay", "interested"}
_BY_EXPECT = {
    "identity": {"confirm_identity", "affirm", "deny"},
    "yes_no": _YES_NO,
    "offer": _YES_NO,
    "payment": {"affirm", "deny", "cannot_pay", "request_installment"},
}


@dataclass(frozen=True)
class Verdict:
    state: str  # complete | incomplete | unsure
    reason: str
    asr_doubt: bool = False  # a complete reading held back by the ASR's doubt (`unsure_reading`) or the prosody
    firm: bool = False  # a must-not-miss request: taken whatever else the reading or the voice shows
    whole: bool = False  # every slot the node asked for is in (all four ID digits): no voice cue can add to it
    heard_ms: int | None = None  # voiced ms of the audio read (speech.prosody.voiced_ms), set by the verdict step
    intent: str | None = None  # the intent that completes the answer, when an intent does
    sure: bool = False  # a complete reading the NLU and Whisper are both sure of (agent.turn_taking.sure_reading)


@dataclass(frozen=True)
class Confidence:
    """What the ASR says of its own reading (speech.asr.base.Transcript): the mean token log-probability and
    the no-speech probability of the decode; `beam_complete` whether Whisper's next beam, judged the same way,
    is complete too (None: no other beam judged); `pause_mark_prob` Whisper's probability of a comma where
    the reading's words end (speech/asr/end_probe.py; None: not weighed). The turn-taker weighs
    the last one (agent/turn_taking.py `open_end`)."""

    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    beam_complete: bool | None = None
    pause_mark_prob: float | None = None
    last_word_prob: float | None = None  # Whisper's probability of the reading's last word (the same pass)


def unsure_reading(conf: Confidence | None, lang: str) -> str | None:
    """Why the ASR doubts its reading, or None: a low log-probability, a high no-speech probability, or the
    next beam not complete."""
    if conf is None:
        return None
    low, high = LOW_LOGPROB.get(lang), HIGH_NO_SPEECH.get(lang)
    if low is not None and conf.avg_logprob is not None and conf.avg_logprob < low:
        return f"log-probability {conf.avg_logprob:.2f}"
    if high is not None and conf.no_speech_prob is not None and conf.no_speech_prob > high:
        return f"no-speech probability {conf.no_speech_prob:.2f}"
    if conf.beam_complete is False:
        return "the next beam is not complete"
    return None


def echo_verdict() -> Verdict:
    return Verdict(UNSURE, ECHO_REASON)


def digit_count(text: str) -> int:
    """Spoken or written digits in a turn: '1 2 3' -> 3, '一二三四' -> 4, '12' -> 2."""
    return sum(1 for ch in text if ch.isdigit() or ch in _ZH_DIGIT) + len(
        re.findall(r"\b(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b", text.strip().lower()))


def is_backchannel(text: str, lang: str, understanding: Any = None) -> bool:
    """'嗯', '对对', 'uh-huh', 'okay': an acknowledgement, not a bid for the turn (empty: a breath, a cough).
    With the NLU's reading, any very short affirmation counts too ('sure', '好')."""
    if lang == "zh":
        bare = bare_zh(text)
        if bare == "" or all(_only(bare, BACKCHANNEL_ZH)):
            return True
        size = len(bare)
    else:
        words = words_en(text)
        if not words or all(w in BACKCHANNEL_EN for w in words):
            return True
        size = len(words)
    return (understanding is not None and size <= BACKCHANNEL_MAX_WORDS[lang]
            and getattr(understanding, "intent", None) in ("affirm", "confirm_identity")
            and float(getattr(understanding, "confidence", 0.0) or 0.0) >= 0.5)


def claims_floor(text: str, lang: str) -> bool:
    """A reading that opens with a word asking the agent to stop (`FLOOR_EN`, `FLOOR_ZH`)."""
    if lang == "zh":
        return bare_zh(text).startswith(FLOOR_ZH)
    words = " ".join(words_en(text))
    return any(words == w or words.startswith(w + " ") for w in FLOOR_EN)


def is_bid(understanding: Any, min_confidence: float = 0.8) -> bool:
    """Words over the agent that want the floor whatever their length: a refusal, a must-not-miss request."""
    return (getattr(understanding, "intent", None) in _ANY | {"deny", "cannot_pay"}
            and float(getattr(understanding, "confidence", 0.0) or 0.0) >= min_confidence)


def is_must_not_miss(understanding: Any, min_confidence: float = 0.8) -> bool:
    """A request taken whatever else the reading shows (wrong number, stop calling, not interested, ...)."""
    return (getattr(understanding, "intent", None) in _ANY
            and float(getattr(understanding, "confidence", 0.0) or 0.0) >= min_confidence)


def syllables(text: str, lang: str) -> int:
    """A rough syllable count of a reading: one per CJK character or digit in Mandarin; vowel groups per
    English word (a digit string counts its digits)."""
    if lang == "zh":
        return len(re.findall(r"[\u4e00-\u9fff0-9]", text))
    n = 0
    for w in words_en(text):
        n += len(w) if w.isdigit() else max(1, len(re.findall(r"[aeiouy]+", re.sub(r"e$", "", w))))
    return n


def repeated_unit(text: str, lang: str) -> str | None:
    """The unit when the whole reading is one word or digit group said again and again ("Yes. Yes.", "好的。好的。",
    "七八七八", "六六六六"): Whisper fills audio it cannot read, such as a trailing conjunction, with a copy of
    what it did read (trim_repeats cuts such loops inside a reading, not a whole reading made of them)."""
    bare = bare_zh(text) if lang == "zh" else "".join(words_en(text))
    for size in range(1, len(bare) // 2 + 1):
        if len(bare) % size == 0 and bare[:size] * (len(bare) // size) == bare:
            return bare[:size]
    return None


def missing_words(text: str, lang: str, voiced_ms: int | None) -> bool:
    """More voice than words: the reading is missing something the callee said (usually its end)."""
    limit = MISSING_WORDS_MS_PER_SYLLABLE.get(lang, 0)
    n = syllables(text, lang)
    return bool(limit and voiced_ms and n and voiced_ms / n > limit)


def trailing_cue(text: str, lang: str) -> str | None:
    """Why the turn sounds unfinished by its words: a trailing conjunction, filler or comma."""
    if _PUNCT_END.search(text.strip()):
        return "trailing comma or ellipsis"
    if lang == "zh":
        bare = bare_zh(text)
        if not bare:
            return None
        if all(_only(bare, FILLERS_ZH)):
            return "filler only"
        if bare in WHOLE_ZH:
            return None
        for w in _TRAILING_ZH_LONGEST_FIRST:
            if bare.endswith(w) and bare != w:
                return f"ends with {w}"
        for w in trailing_zh():  # the lexicon's conjunctions (而且, 所以, 可是), less those answers end with
            if bare.endswith(w) and bare != w:
                return f"ends with {w} (a conjunction)"
        for w in _TRAILING_ZH_LONGEST_FIRST:  # the hand list's words misheard as near-homophones ...
            heard = bare[-len(w):]
            if any(ch.isdigit() or ch in _ZH_NUMERAL for ch in heard):
                continue  # ... but digits are read as digits ("一二九一" is not "…就是": session 18's demo)
            if len(bare) > len(w) and sounds_like(heard, w) and heard not in answer_endings():
                return f"ends with {heard}, like {w}"  # ... unless callers end answers so ("不错", "哪个")
        return None
    words = words_en(text)
    if not words:
        return None
    if all(w in FILLERS_EN for w in words):
        return "filler only"
    if words[-1] in TRAILING_EN and not ends_as_an_answer_en(words):
        return f"ends with {words[-1]}"
    if words[-1] in trailing_en():  # the lexicon's conjunctions, prepositions, articles (or, of, the, my)
        return f"ends with {words[-1]} (a function word)"
    return None


@lru_cache(maxsize=1)
def answer_endings() -> frozenset[str]:
    """The last two and three characters of every Mandarin answer the NLU is trained on: a reading that ends so
    ends as callers' answers do, however near it sounds to a conjunction (built once: the call path warms it)."""
    from nlu.corpus import train_examples

    bare = [bare_zh(e.text) for e in train_examples() if e.lang == "zh"]
    return frozenset(b[-k:] for b in bare for k in (2, 3) if len(b) > k)


@lru_cache(maxsize=1)
def whole_answers_en() -> tuple[tuple[str, ...], ...]:
    """The words of every English answer the NLU is trained on that ends in a trailing word ("No, I don't think
    so.", "very well"): a reading that ends with all of one's words ends as callers' answers do (hesitations,
    `out_of_scope`, are no answer). Two words or more; longest first (built once: the call path warms it)."""
    from nlu.corpus import train_examples

    tails = {tuple(ws) for e in train_examples() if e.lang == "en" and e.intent != "out_of_scope"
             and len(ws := words_en(e.text)) >= 2 and ws[-1] in TRAILING_EN}
    return tuple(sorted(tails, key=len, reverse=True))


def ends_as_an_answer_en(words: list[str]) -> bool:
    """Do the reading's last words make up a whole trained answer (`whole_answers_en`)?"""
    return any(len(words) >= len(a) and tuple(words[-len(a):]) == a for a in whole_answers_en())


def _only(bare: str, vocab: tuple[str, ...]) -> list[bool]:
    rest = bare
    while rest:
        for w in sorted(vocab, key=len, reverse=True):
            if rest.startswith(w):
                rest = rest[len(w):]
                break
        else:
            return [False]
    return [True]


def judge(text: str, lang: str, expect: str | None, understanding: Any = None,
          min_confidence: float = 0.6, voiced_ms: int | None = None, confidence: Confidence | None = None) -> Verdict:
    """`understanding`: nlu.types.Understanding of `text` at this node (intent, confidence, entities);
    `voiced_ms`: voiced audio in the utterance read (speech.prosody.voiced_ms), for `missing_words`;
    `confidence`: the ASR's own doubt about the reading (`unsure_reading`)."""
    v = _judge(text, lang, expect, understanding, min_confidence)
    if v.state == COMPLETE and getattr(understanding, "intent", None) in _ANY and v.reason in _ANY:
        return replace(v, firm=True)  # a must-not-miss request is taken whatever the rest
    if v.state != COMPLETE:
        return v
    unit = repeated_unit(text, lang)
    if unit is not None and len(unit) < len(bare_zh(text) if lang == "zh" else "".join(words_en(text))):
        return Verdict(DOUBT_STATE, f"{v.reason}, but only {unit!r} again and again (a word not read?)")
    if missing_words(text, lang, voiced_ms):
        return Verdict(DOUBT_STATE, f"{v.reason}, but more voice than words ({voiced_ms} ms for "
                               f"{syllables(text, lang)} syllables)")
    why = unsure_reading(confidence, lang)
    if why is not None:
        return Verdict(ASR_DOUBT_STATE, f"{v.reason}, but the ASR is unsure ({why})", asr_doubt=True)
    return v


def _judge(text: str, lang: str, expect: str | None, understanding: Any, min_confidence: float) -> Verdict:
    if not text.strip() or (lang == "zh" and not bare_zh(text)) or (lang != "zh" and not words_en(text)):
        return Verdict(INCOMPLETE, "nothing yet")
    flat = bare_zh(text) if lang == "zh" else " ".join(words_en(text))
    if flat in HALLUCINATIONS.get(lang, ()):
        return Verdict(INCOMPLETE, "only a stock phrase heard (a filler?)")
    cue = trailing_cue(text, lang)
    if cue:
        return Verdict(INCOMPLETE, cue)
    intent = getattr(understanding, "intent", None)
    conf = float(getattr(understanding, "confidence", 0.0) or 0.0)
    ents = getattr(understanding, "entities", None) or {}
    if expect == "id_last4":
        if ents.get("last4"):
            return Verdict(COMPLETE, "four digits", whole=True)
        n = digit_count(text)
        if 0 < n < 4:
            return Verdict(INCOMPLETE, f"{n} of 4 digits")
        if intent in {"deny", "not_interested"} | _ANY and conf >= min_confidence and n == 0:
            return Verdict(COMPLETE, f"{intent} instead of digits", intent=intent)
        return Verdict(UNSURE, "no digits")
    if intent in _ANY and conf >= 0.8:
        return Verdict(COMPLETE, intent, intent=intent)
    if expect in ("date", "callback_time", "payment") and ents.get("date"):
        return Verdict(COMPLETE, "a date")
    if expect in ("date", "callback_time"):
        return Verdict(UNSURE, "no date yet")
    if expect == "payment" and ents.get("amount") and not ents.get("date"):
        return Verdict(INCOMPLETE, "an amount without a date")
    if expect in _BY_EXPECT and intent in _BY_EXPECT[expect] and conf >= min_confidence:
        return Verdict(COMPLETE, intent or "", intent=intent)
    return Verdict(UNSURE, f"{intent} at {expect}")

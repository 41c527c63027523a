"""Does Whisper expect the reading to go on? Its probability of a comma where the reading's words end.

Whisper drops a trailing conjunction or filler it hears only in part ("Yes, and" read "Yes."), but its decoder
still weighs what it heard: given the audio and the reading's words without the final full stop, it gives a comma
more probability when there was more voice than words. The turn-taker (agent/turn_taking.py) doubts a complete
reading whose comma probability is high.

One teacher-forced decoder pass over the prompt, the words and the comma: CTranslate2's `Whisper.align` (the pass
faster-whisper times words with) returns each text token's probability given the ones before it, on the encoder
output the reading was decoded from. About 35-40 ms on this machine (a free-running `generate` forced through the
same tokens takes 90-110 ms: it steps through them one at a time; the beam search returns no per-step
probabilities).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

STOP_MARKS = frozenset(".?!。？！")
MAX_TOKENS = 448  # Whisper's text context: a longer prompt + reading is not weighed
COMMA = {"en": ",", "zh": "，"}


@dataclass(frozen=True)
class Marks:
    """A tokenizer's sentence-ending tokens (full stop, question and exclamation marks, end of text) and the tokens
    of the language's comma."""

    stop: np.ndarray  # bool per token id up to the end of text: a token that is a stop mark by itself
    comma: tuple[int, ...]
    stop_seqs: tuple[tuple[int, ...], ...] = ()  # stop marks spelt in several tokens (full-width "？", "！")

    @classmethod
    def of(cls, tokenizer: Any, lang: str) -> Marks:
        eot = int(tokenizer.eot)
        stop = np.zeros(eot + 1, dtype=bool)
        for i in range(eot):
            s = tokenizer.decode([i]).strip()
            stop[i] = bool(s) and all(c in STOP_MARKS for c in s) and not s.startswith("..")  # not an ellipsis
        stop[eot] = True
        seqs = {tuple(tokenizer.encode(m)) for m in STOP_MARKS}
        return cls(stop, tuple(tokenizer.encode(COMMA.get(lang, ","))), tuple(sorted(q for q in seqs if len(q) > 1)))


_MARKS: dict[tuple[int, str], Marks] = {}


def marks_for(tokenizer: Any, lang: str) -> Marks:
    """`Marks.of(tokenizer, lang)`, built once per vocabulary and language (about 0.3 s)."""
    key = (int(tokenizer.eot), lang)
    if key not in _MARKS:
        _MARKS[key] = Marks.of(tokenizer, lang)
    return _MARKS[key]


def words_of(token_ids: list[int], marks: Marks) -> list[int]:
    """The reading's tokens without its final stop marks (and without the end of text or later specials)."""
    eot = len(marks.stop) - 1
    body = [t for t in token_ids if t < eot]
    while body:
        if marks.stop[body[-1]]:
            body.pop()
            continue
        seq = next((q for q in marks.stop_seqs if tuple(body[-len(q):]) == q), None)
        if seq is None:
            return body
        del body[-len(seq):]
    return body


@dataclass(frozen=True)
class EndProbe:
    """What one teacher-forced pass says of a reading's end: P(a comma next) and P(its last word), each given the
    audio, the prompt and the words before (None: not weighed)."""

    pause_mark_prob: float | None = None
    last_word_prob: float | None = None


def last_word_tokens(body: list[int], lang: str, decode: Callable[[list[int]], str]) -> int:
    """How many of the reading's last tokens spell its last word: in English, back to the token that starts it (a
    leading space); in Mandarin, its last two characters (a Mandarin word is most often two)."""
    for k in range(1, len(body) + 1):
        text = decode(body[-k:])
        if "\ufffd" in text:  # a character cut between tokens
            continue
        if lang == "zh":
            if len(re.findall(r"[\u4e00-\u9fff]", text)) >= 2 or not re.search(r"[\u4e00-\u9fff]", text[-1:]):
                return k
        elif text.startswith(" ") or not (text[:1].isalnum() or text[:1] in "'-"):  # "'s" goes on a word
            return k
    return len(body)


def end_probe(model: Any, encoded: Any, prefix: list[int], token_ids: list[int], marks: Marks, frames: int,
              lang: str = "en", decode: Callable[[list[int]], str] | None = None) -> EndProbe:
    """P(a comma next | the audio, the prompt, the reading's words) and, given `decode` (the tokenizer's), P(the
    reading's last word | the audio, the prompt, the words before it): a word Whisper only half heard, often a
    trailing conjunction written as another word ("Yes, or" read "Yeah, Bart."), is written with a low one.
    Empty for a reading with no words. `model` is the CTranslate2 Whisper model, `encoded` its encoder output of
    the audio (`frames` mel frames of it are the audio, the rest padding), `prefix` the decoder prompt the reading
    was decoded with (previous text, start-of-transcript, language, task)."""
    body = words_of(token_ids, marks)
    if not body or len(prefix) + len(body) + len(marks.comma) > MAX_TOKENS:
        return EndProbe()
    result = model.align(encoded, prefix, [[*body, *marks.comma]], frames, median_filter_width=1)[0]
    probs = [float(p) for p in result.text_token_probs]
    if len(probs) != len(body) + len(marks.comma):
        return EndProbe()
    comma = float(math.prod(probs[len(body):]))
    if decode is None:
        return EndProbe(comma)
    k = last_word_tokens(body, lang, decode)
    return EndProbe(comma, float(math.prod(probs[len(body) - k:len(body)])))

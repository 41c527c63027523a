"""A domain language model that re-ranks Whisper's n-best list.

Whisper base hears a phone line well enough that the right sentence is usually among its five best
beams (here: the best of five halves the Mandarin CER), but the top beam is often a near-homophone
outside the domain ("还怀疑" for "还款日", "电梯" for "链接"). A small n-gram model of what callees say
on collections and telesales calls (characters for Mandarin, words for English) picks among the
beams: score = Whisper's mean token log-probability + `weight` x the LM's mean log-probability per unit.

The model is trained at first use (well under a second) from the NLU corpus (nlu/data/train), which
is text we wrote for the intent model, minus every sentence that comes within the evaluation protocol's
similarity limit of a test sentence (speech/evalset/protocol.py): the LM is built on dev-side text only.

Re-ranking is gated: the LM may move the choice off Whisper's top beam only when the re-ranked winner
beats the top beam by `margin` or more (in the combined score). Weights and margins are per language and
tuned on the dev split (`dialwise bench asr-tune`); English keeps Whisper's top beam unless the LM is sure.
"""
from __future__ import annotations

import functools
import math
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from speech.asr.en_normalizer import english_normalizer

ORDER = {"zh": 4, "en": 3}  # characters / words
END_MIN_SEEN = 5  # `sentence_end_logprob` weighs only an ending whose last unit the corpus holds this often
END_MIN_UNITS = 2  # ... and only a reading of this many units or more
_BOS, _EOS = "<s>", "</s>"


def lm_units(text: str, lang: str) -> list[str]:
    """Mandarin: simplified characters with numbers as words, no punctuation. English: the words after
    Whisper's evaluation normaliser (so "two hundred dollars" and "$200" are the same units)."""
    if lang == "zh":
        from speech.asr.postprocess import to_simplified
        from speech.tts.text import zh_numbers_to_words

        return list(re.sub(r"[\W_]+", "", zh_numbers_to_words(to_simplified(text))))
    return english_normalizer()(text).split()


class NgramLM:
    """Interpolated Witten-Bell n-gram model with an add-one unigram floor (unseen units get a small,
    non-zero probability, so an out-of-domain sentence is penalised, never ruled out)."""

    def __init__(self, sentences: Iterable[Sequence[str]], order: int) -> None:
        if order < 1:
            raise ValueError("order must be >= 1")
        self.order = order
        self._count: Counter[tuple[str, ...]] = Counter()
        self._context: Counter[tuple[str, ...]] = Counter()
        followers: defaultdict[tuple[str, ...], set[str]] = defaultdict(set)
        vocab: set[str] = set()
        self.sentences = 0
        for sent in sentences:
            self.sentences += 1
            toks = [_BOS] * (order - 1) + list(sent) + [_EOS]
            vocab.update(toks[order - 1:])
            for i in range(order - 1, len(toks)):
                for k in range(order):
                    history = tuple(toks[i - k:i])
                    self._count[history + (toks[i],)] += 1
                    self._context[history] += 1
                    followers[history].add(toks[i])
        self._types = {h: len(ws) for h, ws in followers.items()}
        self._vocab_size = len(vocab) + 1  # + one slot for every unseen unit

    def prob(self, history: tuple[str, ...], unit: str) -> float:
        p = (self._count[(unit,)] + 1) / (self._context[()] + self._vocab_size)
        for k in range(1, len(history) + 1):  # from the unigram up to the full history
            h = history[-k:]
            n = self._context.get(h, 0)
            if n == 0:
                break
            t = self._types[h]
            p = (self._count.get(h + (unit,), 0) + t * p) / (n + t)
        return p

    def logprob(self, units: Sequence[str]) -> float:
        """Natural-log probability of the whole sentence, end of sentence included."""
        toks = [_BOS] * (self.order - 1) + list(units) + [_EOS]
        return sum(math.log(self.prob(tuple(toks[i - self.order + 1:i]), toks[i]))
                   for i in range(self.order - 1, len(toks)))

    def mean_logprob(self, units: Sequence[str]) -> float:
        return self.logprob(units) / (len(units) + 1)

    def end_logprob(self, units: Sequence[str], min_seen: int = 1) -> float | None:
        """Natural-log probability that a sentence ends right after `units`; None for no units, or when the last
        unit came up fewer than `min_seen` times in training: after a unit it has hardly seen (a name, a date) the
        model cannot tell how sentences go on, and its estimate falls back on how often sentences end at all."""
        if not units or self._count[(units[-1],)] < min_seen:
            return None
        history = ([_BOS] * (self.order - 1) + list(units))[-(self.order - 1):] if self.order > 1 else []
        return math.log(self.prob(tuple(history), _EOS))


def training_sentences(lang: str) -> list[str]:
    """The NLU corpus sentences of `lang`, minus those within the protocol's limit of any test sentence."""
    from speech.evalset.material import test_guard

    guard = test_guard()
    return [e.text for e in _corpus() if e.lang == lang and not guard.too_close(e.text)]


@functools.lru_cache(maxsize=1)
def _corpus() -> tuple:
    from nlu.corpus import load_train

    return tuple(load_train())


_MODELS: dict[str, NgramLM] = {}
_BUILD = threading.Lock()


def domain_lm(lang: str) -> NgramLM:
    """The process-wide domain LM for `lang` ("zh" or "en"), trained on first use (about 1 s for
    Mandarin, 3 s for English, whose normaliser is slow); a second caller waits for the first."""
    if lang not in ORDER:
        raise ValueError(f"no domain language model for {lang!r}")
    if lang not in _MODELS:
        with _BUILD:
            if lang not in _MODELS:
                _MODELS[lang] = NgramLM((lm_units(t, lang) for t in training_sentences(lang)), ORDER[lang])
    return _MODELS[lang]


def sentence_end_logprob(text: str, lang: str, min_seen: int = END_MIN_SEEN,
                         min_units: int = END_MIN_UNITS) -> float | None:
    """How likely the domain's callees stop talking after `text` (`NgramLM.end_logprob` of its units): low after
    "No, I'm" or "No, we can", where what they say goes on. None: a language with no model, or fewer than
    `min_units` units (a lone "Yes." or "对。" is an answer or not by its meaning: the corpus, written for the intent
    model, holds few one-word sentences, so it puts their end too low)."""
    if lang not in ORDER:
        return None
    units = lm_units(text, lang)
    if len(units) < min_units:
        return None
    return domain_lm(lang).end_logprob(units, min_seen)


def warm_up_in_background() -> threading.Thread:
    """Train both models on a daemon thread, so the first call turn does not pay for it."""
    thread = threading.Thread(target=lambda: [domain_lm(lang) for lang in ORDER], name="domain-lm", daemon=True)
    thread.start()
    return thread


def pick_best(candidates: Sequence[tuple[str, float]], lang: str, weight: float,
              lm: NgramLM | None = None, margin: float = 0.0) -> int:
    """Index of the best (text, Whisper mean log-prob) candidate after adding `weight` x the LM's mean
    log-prob per unit (an empty text is scored as an empty sentence). The top beam (index 0) is kept
    unless the winner's combined score beats it by more than `margin`."""
    if weight <= 0 or len(candidates) < 2 or lang not in ORDER:
        return 0
    lm = lm or domain_lm(lang)
    totals = [acoustic + weight * lm.mean_logprob(lm_units(text, lang)) for text, acoustic in candidates]
    best = max(range(len(totals)), key=totals.__getitem__)
    return best if totals[best] - totals[0] > margin else 0

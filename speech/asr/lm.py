"""A domain language model that re-ranks Whisper's n-best list.

Whisper base hears a phone line well enough that the right sentence is usually among its five best
beams (here: the best of five halves the Mandarin CER), but the top beam is often a near-homophone
outside the domain ("还怀疑" for "还款日", "电梯" for "链接"). A small n-gram model of what callees say
on collections and telesales calls (characters for Mandarin, words for English) picks among the
beams: score = Whisper's mean token log-probability + `weight` x the LM's mean log-probability per unit.

The model is trained at first use (well under a second) from the NLU corpus (nlu/data/train), which
is text we wrote for the intent model. Sentences close to the 80 evaluation fixtures (character-bigram
Jaccard similarity above `HOLDOUT_JACCARD`) are left out, so `dialwise bench asr` measures the
re-ranking on sentences the model has not seen.
"""
from __future__ import annotations

import functools
import json
import math
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

ORDER = {"zh": 4, "en": 3}  # characters / words
HOLDOUT_JACCARD = 0.5
FIXTURES = Path(__file__).resolve().parents[2] / "telephony_adapter" / "sim" / "voices" / "manifest.jsonl"
_BOS, _EOS = "<s>", "</s>"


def lm_units(text: str, lang: str) -> list[str]:
    """Mandarin: simplified characters with numbers as words, no punctuation. English: the words after
    Whisper's evaluation normaliser (so "two hundred dollars" and "$200" are the same units)."""
    if lang == "zh":
        from speech.asr.postprocess import to_simplified
        from speech.tts.text import zh_numbers_to_words

        return list(re.sub(r"[\W_]+", "", zh_numbers_to_words(to_simplified(text))))
    return _en_normalizer()(text).split()


@functools.lru_cache(maxsize=1)
def _en_normalizer():
    from whisper.normalizers import EnglishTextNormalizer

    return EnglishTextNormalizer()


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


def _bigrams(text: str) -> set[str]:
    t = re.sub(r"\s+", " ", text.lower())
    return {t[i:i + 2] for i in range(len(t) - 1)}


def near_any(text: str, others: list[set[str]], threshold: float) -> bool:
    """True when `text` shares more than `threshold` of its character bigrams (Jaccard) with one of `others`."""
    mine = _bigrams(text)
    return any(len(mine & o) / max(1, len(mine | o)) > threshold for o in others)


def holdout_texts(manifest: Path = FIXTURES) -> list[str]:
    if not manifest.is_file():
        return []
    return [json.loads(line)["text"] for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]


def training_sentences(lang: str, holdout: float | None = None) -> list[str]:
    """The NLU corpus sentences of `lang`, minus those close to the evaluation fixtures."""
    holdout = HOLDOUT_JACCARD if holdout is None else holdout
    held = [_bigrams(t) for t in holdout_texts()]
    return [e.text for e in _corpus() if e.lang == lang and not near_any(e.text, held, holdout)]


@functools.lru_cache(maxsize=1)
def _corpus() -> tuple:
    from nlu.corpus import load_train

    return tuple(load_train())


_MODELS: dict[tuple[str, float], NgramLM] = {}
_BUILD = threading.Lock()


def domain_lm(lang: str, holdout: float | None = None) -> NgramLM:
    """The process-wide domain LM for `lang` ("zh" or "en"), trained on first use (about 1 s for
    Mandarin, 3 s for English, whose normaliser is slow); a second caller waits for the first."""
    if lang not in ORDER:
        raise ValueError(f"no domain language model for {lang!r}")
    holdout = HOLDOUT_JACCARD if holdout is None else holdout  # read now: `bench asr --lm-holdout` sets it
    key = (lang, holdout)
    if key not in _MODELS:
        with _BUILD:
            if key not in _MODELS:
                _MODELS[key] = NgramLM((lm_units(t, lang) for t in training_sentences(lang, holdout)), ORDER[lang])
    return _MODELS[key]


def warm_up_in_background() -> threading.Thread:
    """Train both models on a daemon thread, so the first call turn does not pay for it."""
    thread = threading.Thread(target=lambda: [domain_lm(lang) for lang in ORDER], name="domain-lm", daemon=True)
    thread.start()
    return thread


def pick_best(candidates: Sequence[tuple[str, float]], lang: str, weight: float,
              lm: NgramLM | None = None) -> int:
    """Index of the best (text, Whisper mean log-prob) candidate after adding `weight` x the LM's mean
    log-prob per unit (an empty text is scored as an empty sentence)."""
    if weight <= 0 or len(candidates) < 2 or lang not in ORDER:
        return 0
    lm = lm or domain_lm(lang)

    def total(item: tuple[str, float]) -> float:
        text, acoustic = item
        return acoustic + weight * lm.mean_logprob(lm_units(text, lang))

    return max(range(len(candidates)), key=lambda i: total(candidates[i]))

"""The evaluation protocol: one dev/test split by sentence template, and a stated similarity limit.

Every sentence used to measure speech or NLU belongs to a *template* (the sentence with its slots, or
the sentence itself when it has none). A template's split is fixed by a hash of its normalised text,
so the split never moves when a set grows, and every surface variant of a template (other names,
amounts, voices, noise) lands on the same side.

Rules (enforced by tests/speech/test_eval_protocol.py):
- anything trained or tuned (the re-ranking LM's corpus, ASR prompts, NLU training examples, the guard
  lexicon, thresholds and weights) is built and tuned on dev only;
- nothing trained may come within the limit of any test sentence. The limits, stated here and only here:
  - Chinese (and mixed) text: character-bigram Jaccard after `normalize` over `LIMIT_JACCARD` (0.4);
  - English text (both sentences mostly Latin words): Jaccard of the word unigrams and adjacent word bigrams
    over `LIMIT_WORDS_EN` (0.4). Character bigrams of English with the spaces removed are too coarse for
    short sentences: "are you married" is 0.41 from "are you a real human", "what's the cap" from
    "what's the process";
  - in both: containing or being contained in a test sentence (`CONTAIN_MIN` characters / words or longer),
    which is also how an exact copy after normalising counts (similarity 1.0);
- every bench reports dev and test separately; the README quotes test.
"""
from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable

TEST_SHARE = 0.62  # of templates; the hash decides which
LIMIT_JACCARD = 0.4  # character bigrams, Chinese and mixed text
LIMIT_WORDS_EN = 0.4  # word unigrams + bigrams, English
CONTAIN_MIN = {"zh": 5, "en": 3}  # characters / words: a sentence this long inside another is a copy
SALT = "dialwise-eval-v1"
_SLOT = re.compile(r"\{[a-z_]+\}")


@functools.lru_cache(maxsize=1)
def _to_simplified():
    try:
        from zhconv import convert

        return lambda s: convert(s, "zh-cn")
    except ImportError:  # pragma: no cover - zhconv is a dependency
        return lambda s: s


def normalize(text: str) -> str:
    """Lowercase, NFKC, simplified characters, slots, punctuation and spaces removed (both scripts):
    "是的，没错" == "是的没错" and "Yes, it's me." == "yes its me"."""
    text = unicodedata.normalize("NFKC", text)
    text = _SLOT.sub("", text)
    text = _to_simplified()(text).lower()
    return re.sub(r"[\W_]+", "", text)


def template_split(template: str) -> str:
    """'dev' or 'test', from a hash of the normalised template."""
    digest = hashlib.sha256(f"{SALT}:{normalize(template)}".encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2 ** 64 < TEST_SHARE else "dev"


def units(text: str) -> list[str]:
    """Words for Latin text, characters for Chinese (after normalising, spaces kept between words).
    An apostrophe joins, it does not split: "i'm" is one word."""
    text = _to_simplified()(unicodedata.normalize("NFKC", _SLOT.sub("", text))).lower()
    text = re.sub(r"(?<=\w)['\u2019](?=\w)", "", text)
    return re.findall(r"[\u3400-\u9fff]|[^\W_]+", text)


def is_latin(unit_list: list[str]) -> bool:
    """Mostly words, not Chinese characters (the same test decides the containment length)."""
    cjk = sum(1 for u in unit_list if len(u) == 1 and "\u3400" <= u <= "\u9fff")
    return bool(unit_list) and cjk * 2 < len(unit_list)


def word_grams(unit_list: list[str]) -> frozenset[str]:
    """Word unigrams and adjacent word bigrams: the English measure."""
    return frozenset(unit_list) | frozenset(f"{a} {b}" for a, b in zip(unit_list, unit_list[1:], strict=False))


def _joined(unit_list: list[str]) -> str:
    """The units with a separator around each, so a substring test is a test for a run of whole units."""
    return "\x1f" + "\x1f".join(unit_list) + "\x1f"


def _contains_joined(short: str, long_: str, n_short: int, latin_short: bool) -> bool:
    need = CONTAIN_MIN["en"] if latin_short else CONTAIN_MIN["zh"]
    return n_short >= need and short in long_


def bigrams(text: str) -> frozenset[str]:
    t = normalize(text)
    return frozenset(t[i:i + 2] for i in range(len(t) - 1)) if len(t) > 1 else frozenset([t])


class TestGuard:
    """The test sentences, indexed so a corpus of any size can be checked against them quickly."""

    __test__ = False  # not a pytest class

    def __init__(self, sentences: Iterable[str], limit: float = LIMIT_JACCARD,
                 limit_en: float = LIMIT_WORDS_EN) -> None:
        self.limit, self.limit_en = limit, limit_en
        self.sentences = sorted({s for s in sentences if normalize(s)})
        self._norm = [normalize(s) for s in self.sentences]
        self._units = [units(s) for s in self.sentences]
        self._latin = [is_latin(u) for u in self._units]
        self._joined = [_joined(u) for u in self._units]
        self._grams = [bigrams(s) for s in self.sentences]
        self._words = [word_grams(u) for u in self._units]
        self._index: dict[str, list[int]] = {}
        for i, grams in enumerate(self._grams):
            for g in grams | self._words[i]:
                self._index.setdefault(g, []).append(i)

    def closest(self, text: str) -> tuple[float, str | None]:
        """(similarity over its limit's scale, test sentence) of the nearest test sentence; containment counts
        as 1.0. The score is rescaled so that one number compares with `self.limit` in both measures."""
        norm, mine, mine_units = normalize(text), bigrams(text), units(text)
        if not norm:
            return 0.0, None
        latin, mine_words = is_latin(mine_units), word_grams(mine_units)
        mine_joined, n_mine = _joined(mine_units), len(mine_units)
        best, who = 0.0, None
        candidates = {i for g in mine | mine_words for i in self._index.get(g, ())}
        for i in candidates:
            other, n_other = self._norm[i], len(self._units[i])
            contained = (_contains_joined(mine_joined, self._joined[i], n_mine, latin) if n_mine <= n_other else
                         _contains_joined(self._joined[i], mine_joined, n_other, self._latin[i]))
            if norm == other or contained:
                return 1.0, self.sentences[i]
            if latin and self._latin[i]:
                grams = self._words[i]
                score = len(mine_words & grams) / len(mine_words | grams) * self.limit / self.limit_en
            else:
                grams = self._grams[i]
                score = len(mine & grams) / len(mine | grams)
            if score > best:
                best, who = score, self.sentences[i]
        return best, who

    def too_close(self, text: str) -> bool:
        return self.closest(text)[0] > self.limit

    def leaks(self, texts: Iterable[str]) -> list[tuple[str, str, float]]:
        """(text, nearest test sentence, similarity) for each text over the limit."""
        out = []
        for text in texts:
            score, who = self.closest(text)
            if score > self.limit:
                out.append((text, who or "", round(score, 3)))
        return out

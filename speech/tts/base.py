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


class Tts(Protocol):
    name: str

    def synthesize(self, text: str, lang: str, voice: str | None = None) -> Speech: ...

    def stream(self, text: str, lang: str, voice: str | None = None) -> Iterator[Speech]:
        """Yield chunks (e.g. clause by clause) so the first audio can leave before synthesis ends."""
        ...

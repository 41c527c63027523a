"""The ASR seam: one interface, several Whisper engines."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class Segment:
    start: float
    end: float
    text: str
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0


@dataclass
class Transcript:
    text: str
    language: str
    segments: list[Segment] = field(default_factory=list)
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0
    duration_s: float = 0.0
    # Whisper's other beams of the same decode (best score first, the chosen one left out), normalised like
    # `text`, with their mean token log-probabilities; empty when the engine decoded one beam. The
    # turn-taker reads them for free: they come out of the decode that made `text` (agent/turn_taking.py).
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    # Whisper's probability of a comma where the reading's words end (speech/asr/end_probe.py):
    # high when it heard more than it wrote ("Yes, and" read "Yes."). None: not weighed (engine, language)
    pause_mark_prob: float | None = None
    # Whisper's probability of the reading's last word, given the audio and the words before it (the same pass):
    # low when it wrote a word it only half heard, often a trailing conjunction ("Yes, or" read "Yeah, Bart.")
    last_word_prob: float | None = None


class Asr(Protocol):
    name: str

    def transcribe(
        self, audio: np.ndarray, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        """audio: mono float32 in [-1, 1] at 16 kHz. Thread-safe enough to call from a worker pool."""
        ...

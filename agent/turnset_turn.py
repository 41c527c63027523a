"""One callee turn of the `dialwise bench turns` set (agent/turnset.py, agent/turnset_recorded.py)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Turn:
    id: str
    template: str
    lang: str
    split: str
    kind: str  # complete | paused | backchannel | interruption
    expect: str | None
    text: str
    pause_ms: int  # the pause inside a paused turn (0 otherwise)
    voice: str
    audio: np.ndarray | None = None  # 16 kHz float32 after the phone channel
    voice_end_ms: int = 0  # where the first part ends (paused turns)

    def meta(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "audio"}

"""Stereo call recording: callee on the left channel, agent on the right, on one call clock.

The call clock is the callee's inbound stream time (phone networks send audio continuously,
silence included). Agent audio is placed where it started playing on that clock; on barge-in
the unplayed tail is cut, so the recording holds what the callee actually heard.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

RATE = 16000


class StereoRecorder:
    def __init__(self, rate: int = RATE) -> None:
        self.rate = rate
        self._left: list[np.ndarray] = []
        self._left_len = 0
        self._right = np.zeros(0, dtype=np.int16)
        self._agent_cursor = 0  # first sample after the last queued agent audio

    @property
    def now_ms(self) -> int:
        return int(self._left_len * 1000 / self.rate)

    def add_callee(self, pcm16: np.ndarray) -> None:
        self._left.append(pcm16.astype(np.int16, copy=False))
        self._left_len += len(pcm16)

    def add_agent(self, pcm16: np.ndarray) -> int:
        """Queue agent audio after what is already queued (or now, if idle). Returns its start in ms."""
        start = max(self._agent_cursor, self._left_len)
        end = start + len(pcm16)
        if len(self._right) < end:
            grown = np.zeros(max(end, 2 * len(self._right)), dtype=np.int16)
            grown[: len(self._right)] = self._right
            self._right = grown
        self._right[start:end] = pcm16
        self._agent_cursor = end
        return int(start * 1000 / self.rate)

    def callee_audio(self, start_ms: int, end_ms: int | None = None) -> np.ndarray:
        """The callee's audio between two call-clock times, as int16."""
        left = np.concatenate(self._left) if self._left else np.zeros(0, dtype=np.int16)
        self._left = [left]
        a = max(0, start_ms * self.rate // 1000)
        b = len(left) if end_ms is None else end_ms * self.rate // 1000
        return left[a:b]

    def cut_agent(self) -> None:
        """Barge-in: the agent audio queued beyond now was never played."""
        now = self._left_len
        if self._agent_cursor > now:
            self._right[now : self._agent_cursor] = 0
            self._agent_cursor = now

    def save(self, path: Path) -> Path:
        from speech.audio import write_wav

        left = np.concatenate(self._left) if self._left else np.zeros(0, dtype=np.int16)
        n = max(len(left), self._agent_cursor)
        stereo = np.zeros((n, 2), dtype=np.int16)
        stereo[: len(left), 0] = left
        stereo[: self._agent_cursor, 1] = self._right[: self._agent_cursor]
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        write_wav(tmp, stereo, self.rate)
        os.chmod(tmp, 0o600)  # a recording is personal data: readable by the server's user only
        tmp.replace(path)
        return path

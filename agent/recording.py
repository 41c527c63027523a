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


def live_spool_path(var_dir: Path, call_id: str) -> Path:
    """Where a live call's audio is spooled for listen-in (the id is checked: hex only)."""
    if not call_id.isalnum() or not call_id.isascii() or len(call_id) > 64:
        raise ValueError("not a call id")
    return Path(var_dir) / "live" / f"{call_id}.pcm"


class LiveSpool:
    """The audio of a live call as it happens, for supervisors listening in from any process on this
    host: interleaved stereo 16-bit little-endian at the recorder's rate (callee left, agent right),
    appended on the call clock, deleted when the call ends. Readable by the server's user only."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd

    @classmethod
    def open(cls, var_dir: Path, call_id: str) -> LiveSpool | None:
        try:
            path = live_spool_path(var_dir, call_id)
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_APPEND, 0o600)
        except (OSError, ValueError):
            return None  # listen-in is a convenience: a call never fails for it
        return cls(path, fd)

    def write(self, data: bytes) -> None:
        if self._fd < 0:
            return
        try:
            os.write(self._fd, data)
        except OSError:
            self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.path.unlink(missing_ok=True)


class StereoRecorder:
    def __init__(self, rate: int = RATE) -> None:
        self.rate = rate
        self.live: LiveSpool | None = None  # set while supervisors may listen in
        self._left: list[np.ndarray] = []
        self._left_len = 0
        self._right = np.zeros(0, dtype=np.int16)
        self._agent_cursor = 0  # first sample after the last queued agent audio

    @property
    def now_ms(self) -> int:
        return int(self._left_len * 1000 / self.rate)

    def add_callee(self, pcm16: np.ndarray) -> None:
        start = self._left_len
        self._left.append(pcm16.astype(np.int16, copy=False))
        self._left_len += len(pcm16)
        if self.live is not None and len(pcm16):
            self._spool(pcm16, start)

    def _spool(self, callee: np.ndarray, start: int) -> None:
        """What the call sounds like over the callee's new samples: the agent audio playing then (audio
        queued later than now is not spooled yet, so a barge-in cut never reaches a listener)."""
        frames = np.zeros((len(callee), 2), dtype="<i2")
        frames[:, 0] = callee
        agent = self._right[start : start + len(callee)]
        frames[: len(agent), 1] = agent
        assert self.live is not None
        self.live.write(frames.tobytes())

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
        # one reading of the agent side: this runs in a thread while the call's last audio may still be queued
        right = self._right[: self._agent_cursor]
        n = max(len(left), len(right))
        stereo = np.zeros((n, 2), dtype=np.int16)
        stereo[: len(left), 0] = left
        stereo[: len(right), 1] = right
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        write_wav(tmp, stereo, self.rate)
        os.chmod(tmp, 0o600)  # a recording is personal data: readable by the server's user only
        tmp.replace(path)
        return path

"""Streaming voice activity detection on 16 kHz float32 frames of any length.

SileroVad runs the ONNX model shipped inside the installed `silero_vad` package with onnxruntime
(no torch). WebrtcVad is the light fallback. Both expose `speech_prob(frame) -> float`, returning
the probability of the latest complete analysis window, and `reset()` between calls/utterances.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from speech.errors import SpeechError

VAD_RATE = 16000


class Vad(Protocol):
    name: str
    # the shortest run of speech that starts an utterance (and a barge-in): a click or a breath is
    # shorter; it depends on how much the detector smooths its probability over time
    min_speech_ms: int

    def speech_prob(self, frame: np.ndarray) -> float: ...

    def reset(self) -> None: ...


def silero_onnx_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise SpeechError("the silero-vad package is not installed; `pip install silero-vad --no-deps` "
                        "or set VAD to webrtc")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise SpeechError(f"silero VAD model missing at {path}; reinstall silero-vad")
    return path


class _SileroModel:
    """One ONNX session shared by every SileroVad stream in the process (sessions are thread-safe)."""

    _session = None

    @classmethod
    def session(cls):
        if cls._session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            cls._session = ort.InferenceSession(str(silero_onnx_path()), sess_options=opts,
                                                providers=["CPUExecutionProvider"])
        return cls._session


class SileroVad:
    """Silero v5/v6: 512-sample windows at 16 kHz, each prefixed by the previous 64 samples; RNN state kept."""

    name = "silero"
    min_speech_ms = 120  # rejects clicks on its own; 120 ms lets a barge-in stop the agent in ~140 ms
    WINDOW = 512
    CONTEXT = 64

    def __init__(self) -> None:
        self._session = _SileroModel.session()
        self._sr = np.array(VAD_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(self.CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._prob = 0.0

    def _window(self, window: np.ndarray) -> float:
        x = np.concatenate([self._context, window])[None, :]
        out, self._state = self._session.run(None, {"input": x, "state": self._state, "sr": self._sr})
        self._context = window[-self.CONTEXT:]
        return float(out[0, 0])

    def speech_prob(self, frame: np.ndarray) -> float:
        frame = np.asarray(frame, dtype=np.float32).reshape(-1)
        buf = np.concatenate([self._pending, frame]) if self._pending.size else frame
        n = len(buf) // self.WINDOW
        for i in range(n):
            self._prob = self._window(buf[i * self.WINDOW:(i + 1) * self.WINDOW])
        self._pending = buf[n * self.WINDOW:].copy()
        return self._prob


class WebrtcVad:
    """webrtcvad on 20 ms frames; the probability is the share of voiced frames over the last 3."""

    name = "webrtc"
    min_speech_ms = 160  # its 3-frame smoothing makes a 60 ms click look 140 ms long
    FRAME = 320  # 20 ms at 16 kHz

    def __init__(self, aggressiveness: int = 2) -> None:
        self.aggressiveness = aggressiveness
        self.reset()

    def reset(self) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(self.aggressiveness)  # a fresh instance forgets the adapted noise floor
        self._pending = np.zeros(0, dtype=np.float32)
        self._recent: list[float] = []
        self._prob = 0.0

    def speech_prob(self, frame: np.ndarray) -> float:
        frame = np.asarray(frame, dtype=np.float32).reshape(-1)
        buf = np.concatenate([self._pending, frame]) if self._pending.size else frame
        n = len(buf) // self.FRAME
        for i in range(n):
            chunk = buf[i * self.FRAME:(i + 1) * self.FRAME]
            pcm = np.clip(np.round(chunk * 32768.0), -32768, 32767).astype(np.int16).tobytes()
            self._recent = (self._recent + [1.0 if self._vad.is_speech(pcm, VAD_RATE) else 0.0])[-3:]
            self._prob = sum(self._recent) / len(self._recent)
        self._pending = buf[n * self.FRAME:].copy()
        return self._prob


def create_vad(kind: str | None = None) -> Vad:
    """'silero' (default) or 'webrtc'. Falls back to webrtc if silero cannot load."""
    kind = (kind or "silero").lower()
    if kind == "webrtc":
        return WebrtcVad()
    if kind != "silero":
        raise SpeechError(f"unknown VAD {kind!r}; use silero or webrtc")
    try:
        return SileroVad()
    except (SpeechError, ImportError, OSError):
        return WebrtcVad()

"""Whisper through faster-whisper (CTranslate2, int8 on CPU): the default ASR engine."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from speech.asr.base import Segment, Transcript
from speech.asr.postprocess import finish

SUPPORTED = ("zh", "en")
ASR_RATE = 16000


def pick_language(probs: dict[str, float] | list[tuple[str, float]]) -> tuple[str, float]:
    """Choose zh or en from Whisper's language probabilities (Cantonese counts towards zh)."""
    table = dict(probs)
    zh = table.get("zh", 0.0) + table.get("yue", 0.0)
    en = table.get("en", 0.0)
    return ("zh", zh) if zh >= en else ("en", en)


class FasterWhisperAsr:
    """Greedy, single-pass Whisper tuned for short phone utterances.

    `chunk_length` (seconds) shortens CTranslate2's encoder window from 30 s; None keeps the model's
    default. Utterances longer than the window are cut into windows by faster-whisper itself.
    """

    name = "faster"

    def __init__(self, model_dir: Path | str, compute_type: str = "int8", cpu_threads: int = 2,
                 chunk_length: int | None = None) -> None:
        from faster_whisper import WhisperModel

        self.model_dir = Path(model_dir)
        self.model = WhisperModel(str(self.model_dir), device="cpu", compute_type=compute_type,
                                  cpu_threads=cpu_threads, num_workers=1, local_files_only=True)
        self.chunk_length = chunk_length or 30
        self._lock = threading.Lock()  # CTranslate2 model calls are serialised per model instance

    def detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        with self._lock:
            _lang, _prob, probs = self.model.detect_language(audio=np.asarray(audio, dtype=np.float32))
        return pick_language(probs)

    def transcribe(self, audio: np.ndarray, language: str | None = None, prompt: str | None = None) -> Transcript:
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        duration = len(audio) / ASR_RATE
        if len(audio) < ASR_RATE // 10 or float(np.max(np.abs(audio), initial=0.0)) < 1e-4:
            return Transcript(text="", language=language or "", duration_s=duration, no_speech_prob=1.0)
        if language not in SUPPORTED:
            language, _ = self.detect_language(audio)
        with self._lock:
            segments, _info = self.model.transcribe(
                audio,
                language=language,
                task="transcribe",
                beam_size=1,
                best_of=1,
                temperature=0.0,
                without_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,
                initial_prompt=prompt or None,
                suppress_blank=True,
                log_prob_threshold=None,
                no_speech_threshold=None,
                compression_ratio_threshold=None,
                chunk_length=self.chunk_length,
            )
            raw = [Segment(s.start, s.end, s.text, s.no_speech_prob, s.avg_logprob) for s in segments]
        return finish(raw, language, duration)


def timed_transcribe(asr, audio: np.ndarray, language: str | None = None,
                     prompt: str | None = None) -> tuple[Transcript, float]:
    t0 = time.perf_counter()
    result = asr.transcribe(audio, language=language, prompt=prompt)
    return result, time.perf_counter() - t0

"""The ASR seam: one interface, several Whisper engines.

    from speech.asr import create_asr
    asr = create_asr()                      # engine from settings (ASR_ENGINE), cached per process
    t = asr.transcribe(audio_16k_float32, language="zh", prompt="还款 元")
"""
from __future__ import annotations

import threading
from pathlib import Path

from speech.asr.base import Asr, Segment, Transcript

__all__ = ["Asr", "Segment", "Transcript", "create_asr", "ENGINES"]

ENGINES = ("faster", "faster-cut", "openai")
_CACHE: dict[tuple[str, str], Asr] = {}
_LOCK = threading.Lock()


def create_asr(engine: str | None = None, model_dir: Path | str | None = None) -> Asr:
    """Return the process-wide ASR for (engine, model path); loads the model on first use."""
    from agent.config import get_settings
    from agent.errors import UserError
    from speech.asr.resolve import resolve_whisper_model

    settings = get_settings()
    engine = (engine or settings.asr_engine or "faster").lower()
    if engine not in ENGINES:
        raise UserError(f"unknown ASR engine {engine!r}; use one of: {', '.join(ENGINES)}")
    path = resolve_whisper_model(settings.whisper_model, model_dir)
    key = (engine, str(path))
    with _LOCK:
        if key not in _CACHE:
            if engine in ("faster", "faster-cut"):
                from speech.asr.faster import FasterWhisperAsr

                context = "cut" if engine == "faster-cut" else "full"
                _CACHE[key] = FasterWhisperAsr(path, cpu_threads=settings.asr_threads, context=context)
            else:
                from speech.asr.openai_whisper import OpenAIWhisperAsr

                _CACHE[key] = OpenAIWhisperAsr.from_ct2_dir(path, threads=settings.asr_threads)
        return _CACHE[key]

"""The TTS seam: text in, PCM out.

    from speech.tts import create_tts
    tts = create_tts("zh")            # engine per language from settings (TTS_ENGINE_EN / TTS_ENGINE_ZH)
    speech = tts.synthesize("您好", "zh")
"""
from __future__ import annotations

import threading

from speech.tts.base import Speech, Tts

__all__ = ["Speech", "Tts", "create_tts", "ENGINES"]

ENGINES = ("espeak", "piper")
_CACHE: dict[str, Tts] = {}
_LOCK = threading.Lock()


def engine_for(lang: str) -> str:
    from agent.config import get_settings

    settings = get_settings()
    return (settings.tts_engine_zh if lang == "zh" else settings.tts_engine_en or "espeak").lower()


def create_tts(lang: str, engine: str | None = None) -> Tts:
    """The process-wide TTS engine for a language (cached)."""
    from agent.errors import UserError

    engine = (engine or engine_for(lang)).lower()
    if engine not in ENGINES:
        raise UserError(f"unknown TTS engine {engine!r}; use one of: {', '.join(ENGINES)}")
    if engine == "piper" and lang != "en":
        raise UserError("piper has an English voice only here; set TTS_ENGINE_ZH=espeak")
    with _LOCK:
        if engine not in _CACHE:
            if engine == "espeak":
                from speech.tts.espeak import EspeakTts

                _CACHE[engine] = EspeakTts()
            else:
                from speech.tts.piper import PiperTts

                _CACHE[engine] = PiperTts()
        return _CACHE[engine]

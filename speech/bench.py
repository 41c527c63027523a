"""Benchmarks for `dialwise bench asr` and `dialwise bench tts` (each returns one JSON-able dict).

ASR: the labelled fixtures pass through a telephone channel (16 kHz -> 8 kHz, line noise at ~20 dB
SNR, G.711 mu-law, back to 16 kHz); WER (en) and CER (zh) are computed after the usual Whisper
evaluation normalisation (openai-whisper's EnglishTextNormalizer for English; simplified characters,
numbers as Chinese words and no punctuation for Mandarin).
"""
from __future__ import annotations

import json
import re
import statistics
import time
from pathlib import Path

import numpy as np

from speech.audio import read_audio, resample, to_float32, to_int16, ulaw_decode, ulaw_encode

VOICES_DIR = Path(__file__).resolve().parent.parent / "telephony_adapter" / "sim" / "voices"


def load_manifest(folder: Path = VOICES_DIR) -> list[dict]:
    path = folder / "manifest.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def telephone_channel(audio16k: np.ndarray, snr_db: float = 20.0, seed: int = 0) -> np.ndarray:
    """16 kHz float32 -> 8 kHz with white line noise at `snr_db` (vs. the speech power) -> mu-law -> 16 kHz."""
    x8 = resample(audio16k.astype(np.float32), 16000, 8000)
    active = x8[np.abs(x8) > 0.01]
    power = float(np.mean((active if active.size else x8) ** 2))
    rng = np.random.default_rng(seed)
    noisy = x8 + rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(x8)).astype(np.float32)
    line = ulaw_decode(ulaw_encode(to_int16(noisy)))
    return resample(to_float32(line), 8000, 16000)


_EN_NORMALIZER = None


def normalize_en(text: str) -> str:
    global _EN_NORMALIZER
    if _EN_NORMALIZER is None:
        from whisper.normalizers import EnglishTextNormalizer

        _EN_NORMALIZER = EnglishTextNormalizer()
    return _EN_NORMALIZER(text)


def normalize_zh(text: str) -> str:
    from speech.asr.postprocess import to_simplified
    from speech.tts.text import zh_numbers_to_words

    text = zh_numbers_to_words(to_simplified(text))
    return re.sub(r"[\W_]+", "", text)


def error_rate(refs: list[str], hyps: list[str], lang: str) -> float:
    """Corpus WER (en) or CER (zh): total edits / total reference units."""
    import jiwer

    if lang == "zh":
        r = [" ".join(normalize_zh(t)) for t in refs]
        h = [" ".join(normalize_zh(t)) for t in hyps]
    else:
        r = [normalize_en(t) for t in refs]
        h = [normalize_en(t) for t in hyps]
    pairs = [(a, b) for a, b in zip(r, h) if a.strip()]
    refs_ok = [a for a, _ in pairs]
    hyps_ok = [b if b.strip() else "<empty>" for _, b in pairs]
    return float(jiwer.wer(refs_ok, hyps_ok))


def run_asr_bench(engines: list[str], snr_db: float = 20.0, limit: int | None = None,
                  folder: Path = VOICES_DIR, threads: int | None = None) -> dict:
    from speech.asr import create_asr

    rows = load_manifest(folder)
    if limit:
        per_lang = max(1, limit // 2)
        rows = [r for r in rows if r["lang"] == "zh"][:per_lang] + [r for r in rows if r["lang"] == "en"][:per_lang]
    clips = []
    for i, row in enumerate(rows):
        audio, _ = read_audio(folder / row["file"], 16000)
        clips.append((row, telephone_channel(audio, snr_db, seed=i)))
    audio_s = sum(len(a) for _, a in clips) / 16000
    from agent.config import get_settings

    result: dict = {"threads": threads or get_settings().asr_threads, "fixtures": len(clips),
                    "audio_s": round(audio_s, 2), "channel": f"8 kHz mu-law, {snr_db:g} dB SNR", "engines": {}}
    asrs = {engine: create_asr(engine, threads=threads) for engine in engines}
    for asr in asrs.values():
        asr.transcribe(clips[0][1], language=clips[0][0]["lang"])  # warm-up, not timed
    hyps: dict[str, list[str]] = {e: [] for e in engines}
    times: dict[str, list[float]] = {e: [] for e in engines}
    # engines take turns clip by clip, so a change in machine load hits every engine alike
    for row, audio in clips:
        for engine, asr in asrs.items():
            t0 = time.perf_counter()
            text = asr.transcribe(audio, language=row["lang"]).text
            times[engine].append(time.perf_counter() - t0)
            hyps[engine].append(text)
    for engine in engines:
        elapsed = times[engine]
        short = [t for (_, a), t in zip(clips, elapsed) if 2.0 <= len(a) / 16000 <= 3.0]
        by_lang = {lang: ([r["text"] for r, _ in clips if r["lang"] == lang],
                          [h for (r, _), h in zip(clips, hyps[engine]) if r["lang"] == lang]) for lang in ("zh", "en")}
        result["engines"][engine] = {
            "wer_en": round(error_rate(*by_lang["en"], "en"), 4) if by_lang["en"][0] else None,
            "cer_zh": round(error_rate(*by_lang["zh"], "zh"), 4) if by_lang["zh"][0] else None,
            "rtf": round(sum(elapsed) / audio_s, 4),
            "total_s": round(sum(elapsed), 3),
            "p50_ms": round(1000 * statistics.median(elapsed), 1),
            "p90_ms": round(1000 * sorted(elapsed)[int(0.9 * (len(elapsed) - 1))], 1),
            "p50_ms_2to3s": round(1000 * statistics.median(short), 1) if short else None,
            "n_2to3s": len(short),
            "empty_outputs": sum(1 for h in hyps[engine] if not h.strip()),
        }
    names = list(result["engines"])
    if "faster-full" in names:  # the 30 s-window reference pipeline, same run, same machine load
        base = result["engines"]["faster-full"]["total_s"]
        result["speedup_vs_faster_full"] = {n: round(base / result["engines"][n]["total_s"], 2)
                                            for n in names if n != "faster-full"}
    result["targets"] = {"wer_en": 0.10, "cer_zh": 0.12, "speedup": 3.0}
    return result

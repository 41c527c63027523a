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
from speech.options import AsrOptions

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
    pairs = [(a, b) for a, b in zip(r, h, strict=True) if a.strip()]
    refs_ok = [a for a, _ in pairs]
    hyps_ok = [b if b.strip() else "<empty>" for _, b in pairs]
    return float(jiwer.wer(refs_ok, hyps_ok))


def run_asr_bench(engines: list[str], snr_db: float = 20.0, limit: int | None = None,
                  folder: Path = VOICES_DIR, threads: int | None = None, details: Path | None = None,
                  reference: str = "openai-full", lm_holdout: float | None = None, draws: int = 1,
                  options: AsrOptions | None = None) -> dict:
    """Error rates and speed of `engines` over the telephone channel, engines taking turns clip by clip.

    `draws`: pass every fixture through the channel this many times, each with its own line noise, and
    pool the errors of all draws (80 fixtures hold about 320 English words, so one draw's WER moves by
    a point or two with the noise alone; the per-draw figures are reported too).
    `reference`: the engine every other one is compared with (speed ratio and error deltas), when run.
    `details`: also write one JSON line per clip and engine (reference, hypothesis, seconds).
    `options`: the model, its folders and the engines' settings (default AsrOptions()); `threads` overrides.
    `lm_holdout`: a stricter (lower) Jaccard hold-out for the domain LM's training text."""
    from speech.asr import lm

    if draws < 1:
        raise ValueError("draws must be >= 1")
    if lm_holdout is not None:
        lm.HOLDOUT_JACCARD = lm_holdout
    from speech.asr import create_asr

    rows = load_manifest(folder)
    if limit:
        per_lang = max(1, limit // 2)
        rows = [r for r in rows if r["lang"] == "zh"][:per_lang] + [r for r in rows if r["lang"] == "en"][:per_lang]
    clips = []  # (row, audio, draw)
    for i, row in enumerate(rows):
        audio, _ = read_audio(folder / row["file"], 16000)
        for draw in range(draws):
            clips.append((row, telephone_channel(audio, snr_db, seed=i + 1000 * draw), draw))
    audio_s = sum(len(a) for _, a, _ in clips) / 16000
    opts = options or AsrOptions()
    result: dict = {"threads": threads or opts.threads, "fixtures": len(rows), "draws": draws,
                    "lm_weight": opts.lm_weight, "lm_holdout_jaccard": lm.HOLDOUT_JACCARD,
                    "audio_s": round(audio_s, 2), "channel": f"8 kHz mu-law, {snr_db:g} dB SNR", "engines": {}}
    asrs = {engine: create_asr(engine, threads=threads, options=opts) for engine in engines}
    for asr in asrs.values():
        asr.transcribe(clips[0][1], language=clips[0][0]["lang"])  # warm-up, not timed
    hyps: dict[str, list[str]] = {e: [] for e in engines}
    times: dict[str, list[float]] = {e: [] for e in engines}
    # engines take turns clip by clip, so a change in machine load hits every engine alike
    for row, audio, _ in clips:
        for engine, asr in asrs.items():
            t0 = time.perf_counter()
            text = asr.transcribe(audio, language=row["lang"]).text
            times[engine].append(time.perf_counter() - t0)
            hyps[engine].append(text)
    for engine in engines:
        elapsed = times[engine]
        short = [t for (_, a, _), t in zip(clips, elapsed, strict=True) if 2.0 <= len(a) / 16000 <= 3.0]
        rates = {lang: _rate(clips, hyps[engine], lang) for lang in ("en", "zh")}
        result["engines"][engine] = {
            "wer_en": rates["en"],
            "cer_zh": rates["zh"],
            "rtf": round(sum(elapsed) / audio_s, 4),
            "total_s": round(sum(elapsed), 3),
            "p50_ms": round(1000 * statistics.median(elapsed), 1),
            "p90_ms": round(1000 * sorted(elapsed)[int(0.9 * (len(elapsed) - 1))], 1),
            "p50_ms_2to3s": round(1000 * statistics.median(short), 1) if short else None,
            "n_2to3s": len(short),
            "empty_outputs": sum(1 for h in hyps[engine] if not h.strip()),
        }
        if draws > 1:
            result["engines"][engine]["per_draw"] = {
                key: [_rate(clips, hyps[engine], lang, d) for d in range(draws)]
                for key, lang in (("wer_en", "en"), ("cer_zh", "zh"))}
    if details is not None:
        with open(details, "w", encoding="utf-8") as fh:
            for i, (row, _, draw) in enumerate(clips):
                for engine in engines:
                    fh.write(json.dumps({"file": row["file"], "draw": draw, "lang": row["lang"], "engine": engine,
                                         "ref": row["text"], "hyp": hyps[engine][i],
                                         "s": round(times[engine][i], 3)}, ensure_ascii=False) + "\n")
    result["targets"] = {"wer_en": 0.10, "cer_zh": 0.12, "speedup": 3.0}
    result.update(compare_with(result["engines"], reference))
    return result


def _rate(clips: list, hyps: list[str], lang: str, draw: int | None = None) -> float | None:
    """Pooled WER/CER of `lang` over all clips, or over one noise draw's clips."""
    keep = [(row["text"], h) for (row, _, d), h in zip(clips, hyps, strict=True)
            if row["lang"] == lang and (draw is None or d == draw)]
    if not keep:
        return None
    return round(error_rate([r for r, _ in keep], [h for _, h in keep], lang), 4)


def compare_with(engines: dict[str, dict], reference: str) -> dict:
    """Each engine against the reference measured in the same run: speed ratio (reference time / engine
    time), error deltas (negative = fewer errors than the reference), and whether both targets and the
    issue's "at least 3x faster at an equal or better error rate" hold."""
    ref = engines.get(reference)
    if ref is None:
        return {}
    out: dict[str, dict] = {}
    for name, row in engines.items():
        if name == reference:
            continue
        speedup = round(ref["total_s"] / row["total_s"], 2)
        deltas = {k: round(row[k] - ref[k], 4) for k in ("wer_en", "cer_zh")
                  if row[k] is not None and ref[k] is not None}
        out[name] = {"speedup": speedup, "error_delta": deltas,
                     "faster_3x_at_equal_or_better_error": speedup >= 3.0 and all(d <= 0 for d in deltas.values()),
                     "meets_error_targets": (row["wer_en"] is None or row["wer_en"] <= 0.10)
                     and (row["cer_zh"] is None or row["cer_zh"] <= 0.12)}
    return {"reference": reference, "vs_reference": out}

"""Benchmarks for `dialwise bench asr` and `dialwise bench tts` (each returns one JSON-able dict).

ASR: the labelled fixtures pass through a telephone channel (16 kHz -> 8 kHz, line noise at ~20 dB
SNR, G.711 mu-law, back to 16 kHz); WER (en) and CER (zh) are computed after the usual Whisper
evaluation normalisation (openai-whisper's EnglishTextNormalizer for English; simplified characters,
every number in Arabic digits (cn2an) and no punctuation for Mandarin: `normalize_zh`).
"""
from __future__ import annotations

import json
import re
import statistics
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from speech.asr.en_normalizer import english_normalizer
from speech.audio import alaw_decode, alaw_encode, read_audio, resample, to_float32, to_int16, ulaw_decode, ulaw_encode
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
    return over_the_wire(to_int16(noisy), "ulaw")


def phone_path(pcm: np.ndarray, rate: int, law: str) -> np.ndarray:
    """A voice through one phone path without noise: 8 kHz int16 on the wire, linear ("pcm"), mu-law ("ulaw") or
    A-law ("alaw"), back at 16 kHz float32 for the ASR."""
    if law not in ("pcm", "ulaw", "alaw"):
        raise ValueError(f"unknown phone path {law!r}; use pcm, ulaw or alaw")
    return over_the_wire(to_int16(resample(to_float32(pcm), rate, 8000)), law)


def over_the_wire(wire: np.ndarray, law: str) -> np.ndarray:
    """8 kHz int16 through the line's codec (`law`: "pcm" leaves it linear), back at 16 kHz float32 for the ASR:
    the leg `telephone_channel` and `phone_path` share."""
    if law == "ulaw":
        wire = ulaw_decode(ulaw_encode(wire))
    elif law == "alaw":
        wire = alaw_decode(alaw_encode(wire))
    return resample(to_float32(wire), 8000, 16000)


# single digits said one by one, written apart: "8 1 0 4", "8-1-0-4" (not a decimal or a thousands group)
_SPACED_DIGITS_EN = re.compile(r"(?<![\d.,])\d(?:[ \t-]+\d)+(?!\d|[.,]\d)")


def normalize_en(text: str) -> str:
    """English text as it is scored: openai-whisper's EnglishTextNormalizer, after joining digits said one by
    one into one string on both sides, as `normalize_zh` does for Mandarin: "8 1 0 4" = "8-1-0-4" = "8104" =
    "eight one oh four" (the normaliser alone reads "8 1 0 4" as four words, one of them "one")."""
    text = _SPACED_DIGITS_EN.sub(lambda m: re.sub(r"[ \t-]+", "", m.group(0)), text)
    return english_normalizer()(text)


_ZH_DIGIT = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {"〇": "0", "幺": "1"}
_ZH_DIGIT_RUN = re.compile(f"[0-9{''.join(_ZH_DIGIT)}]{{3,}}")
_SPACED_DIGITS = re.compile(r"(?<![\d.])\d(?:\s+\d)+(?![\d.])")


def normalize_zh(text: str) -> str:
    """Mandarin text as it is scored: simplified characters, every number in Arabic digits, no punctuation
    or spaces. Both sides go through this, so a number reads the same however it is written: 两千 = 2000,
    三千二 = 3200, 一九八四年 = 1984年, 三八零六 = 3 8 0 6 = 3806, 零五一九 = 0519, 百分之三点五 = 3.5%.
    Runs of three or more bare digits, either script (三八零六, 0519零零), are digit strings (card numbers, years), kept
    digit by digit so a leading 零 stays; cn2an reads the rest (units 十 百 千 万, 两, 点, 百分之)."""
    import warnings

    import cn2an

    from speech.asr.postprocess import to_simplified

    text = to_simplified(text)
    text = _SPACED_DIGITS.sub(lambda m: re.sub(r"\s+", "", m.group(0)), text)
    text = _ZH_DIGIT_RUN.sub(lambda m: "".join(_ZH_DIGIT.get(c, c) for c in m.group(0)), text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cn2an warns on forms it leaves alone (三点五万)
        try:
            text = cn2an.transform(text, "cn2an")
        except (ValueError, KeyError, IndexError):
            pass  # left as written: both sides still compare character by character
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


SETS = ("fresh", "fixtures")
FRESH_DIR = Path("var/cache/evalset/fresh")


def load_set(name: str, folder: Path | None = None) -> tuple[Path, list[dict]]:
    """(folder, rows) of an evaluation set; each row has file, lang, text and split.
    fresh: the caller sentences of speech/evalset, synthesised into `folder` on first use.
    fixtures: the 80 recorded fixtures. Any other folder with a manifest.jsonl works too (rows without a
    split are assigned one by the protocol's template hash)."""
    from speech.evalset.protocol import template_split

    if name == "fresh":
        from speech.evalset.fresh import build

        folder = folder or FRESH_DIR
        build(folder)
    elif name == "fixtures":
        folder = folder or VOICES_DIR
    elif folder is None:
        raise ValueError(f"unknown evaluation set {name!r}; use one of {SETS} or give a folder")
    rows = load_manifest(folder)
    return folder, [{**r, "split": r.get("split") or template_split(r.get("template") or r["text"])} for r in rows]


def channel_clips(folder: Path, rows: list[dict], snr_db: float, draws: int) -> list[tuple[dict, np.ndarray, int]]:
    """(row, audio after the phone channel, draw) for every row and noise draw."""
    clips = []
    for row in rows:
        audio, _ = read_audio(folder / row["file"], 16000)
        seed = zlib.crc32(row["file"].encode()) % 100000  # the clip's own noise, whatever the row order
        for draw in range(draws):
            clips.append((row, telephone_channel(audio, snr_db, seed=seed + 1000 * draw), draw))
    return clips


def run_asr_bench(engines: list[str], snr_db: float = 20.0, limit: int | None = None,
                  folder: Path | None = None, threads: int | None = None, details: Path | None = None,
                  reference: str = "openai-full", draws: int = 2, options: AsrOptions | None = None,
                  eval_set: str = "fresh", splits: tuple[str, ...] = ("dev", "test")) -> dict:
    """Error rates and speed of `engines` over the telephone channel, engines taking turns clip by clip,
    reported for the dev split (tuned on) and the test split (never tuned on) separately.

    `draws`: pass every clip through the channel this many times, each with its own line noise, and
    pool the errors of all draws (the per-draw figures are reported too).
    `reference`: the engine every other one is compared with (speed ratio and error deltas), when run.
    `details`: also write one JSON line per clip and engine (reference, hypothesis, seconds).
    `limit`: at most this many rows per language and split (a quick look, not a figure to quote)."""
    if draws < 1:
        raise ValueError("draws must be >= 1")
    from speech.asr import create_asr

    folder, rows = load_set(eval_set, folder)
    rows = [r for r in rows if r["split"] in splits]
    if limit:
        rows = [r for split in splits for lang in ("zh", "en")
                for r in [x for x in rows if x["lang"] == lang and x["split"] == split][:limit]]
    clips = channel_clips(folder, rows, snr_db, draws)
    opts = options or AsrOptions()
    result: dict = {"set": eval_set, "folder": str(folder), "threads": threads or opts.threads, "draws": draws,
                    "lm": {"weight_zh": opts.lm_weight, "weight_en": opts.lm_weight_en,
                           "margin_zh": opts.lm_margin_zh, "margin_en": opts.lm_margin_en},
                    "channel": f"8 kHz mu-law, {snr_db:g} dB SNR", "splits": {}}
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
    for split in splits:
        idx = [i for i, (row, _, _) in enumerate(clips) if row["split"] == split]
        if not idx:
            continue
        part = [clips[i] for i in idx]
        audio_s = sum(len(a) for _, a, _ in part) / 16000
        out: dict[str, Any] = {"utterances": {lang: sum(1 for r in rows if r["split"] == split and r["lang"] == lang)
                              for lang in ("en", "zh")},
               "audio_s": round(audio_s, 2), "engines": {}}
        for engine in engines:
            out["engines"][engine] = _engine_row(part, [hyps[engine][i] for i in idx],
                                                 [times[engine][i] for i in idx], audio_s, draws)
        out["targets"] = TARGETS
        out.update(compare_with(out["engines"], reference))
        result["splits"][split] = out
    if details is not None:
        with open(details, "w", encoding="utf-8") as fh:
            for i, (row, _, draw) in enumerate(clips):
                for engine in engines:
                    fh.write(json.dumps({"file": row["file"], "split": row["split"], "draw": draw, "lang": row["lang"],
                                         "engine": engine, "ref": row["text"], "hyp": hyps[engine][i],
                                         "s": round(times[engine][i], 3)}, ensure_ascii=False) + "\n")
    return result


TARGETS: dict[str, Any] = {"wer_en": 0.06, "cer_zh": 0.12, "speedup": 3.0, "wer_en_at_most": "faster-full"}


def _engine_row(clips: list, hyps: list[str], elapsed: list[float], audio_s: float, draws: int) -> dict:
    short = [t for (_, a, _), t in zip(clips, elapsed, strict=True) if 2.0 <= len(a) / 16000 <= 3.0]
    row: dict[str, Any] = {
        "wer_en": _rate(clips, hyps, "en"),
        "cer_zh": _rate(clips, hyps, "zh"),
        "rtf": round(sum(elapsed) / audio_s, 4),
        "total_s": round(sum(elapsed), 3),
        "p50_ms": round(1000 * statistics.median(elapsed), 1),
        "p90_ms": round(1000 * sorted(elapsed)[int(0.9 * (len(elapsed) - 1))], 1),
        "p50_ms_2to3s": round(1000 * statistics.median(short), 1) if short else None,
        "n_2to3s": len(short),
        "empty_outputs": sum(1 for h in hyps if not h.strip()),
    }
    if draws > 1:
        row["per_draw"] = {key: [_rate(clips, hyps, lang, d) for d in range(draws)]
                           for key, lang in (("wer_en", "en"), ("cer_zh", "zh"))}
    return row


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
                     "meets_error_targets": (row["wer_en"] is None or row["wer_en"] <= TARGETS["wer_en"])
                     and (row["cer_zh"] is None or row["cer_zh"] <= TARGETS["cer_zh"])}
        stock = engines.get(TARGETS["wer_en_at_most"])
        if stock and name != TARGETS["wer_en_at_most"] and row["wer_en"] is not None and stock["wer_en"] is not None:
            out[name]["wer_en_not_worse_than_stock"] = row["wer_en"] <= stock["wer_en"]
    return {"reference": reference, "vs_reference": out}

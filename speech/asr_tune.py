"""`dialwise bench asr-tune`: choose the re-ranking LM's weight and margin per language on dev only.

Whisper's beams are decoded once per dev clip (the fresh set's and the fixtures' dev splits, through the
phone channel with several noise draws), with the prompt the engine itself uses (the generic domain prompt);
every (weight, margin) pair then re-ranks the same beams, so the grid costs no decoding. The winner is the
lowest pooled error; ties go to the smaller weight and then the
larger margin (the choice that leaves Whisper's top beam more often). Test clips are never read here.
"""
from __future__ import annotations

import time
from typing import Any

from speech.options import AsrOptions

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7)
MARGINS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)


def collect_dev_beams(sets: tuple[str, ...] = ("fresh", "fixtures"), draws: int = 2, snr_db: float = 20.0,
                      options: AsrOptions | None = None, limit: int | None = None) -> list[tuple[dict, list]]:
    """(row, beams) for every dev clip and noise draw."""
    from speech.asr import create_asr
    from speech.bench import channel_clips, load_set

    asr: Any = create_asr("faster", options=options or AsrOptions())  # the faster engine: it has nbest()
    out = []
    for name in sets:
        folder, rows = load_set(name)
        rows = [r for r in rows if r["split"] == "dev"]
        if limit:
            rows = [r for lang in ("zh", "en") for r in [x for x in rows if x["lang"] == lang][:limit]]
        for row, audio, _ in channel_clips(folder, rows, snr_db, draws):
            out.append((row, asr.nbest(audio, row["lang"])))
    return out


def grid(beams: list[tuple[dict, list]], lang: str) -> list[dict]:
    from speech.asr.lm import domain_lm, pick_best
    from speech.bench import error_rate

    rows = [(r, b) for r, b in beams if r["lang"] == lang]
    refs = [r["text"] for r, _ in rows]
    lm = domain_lm(lang)
    table = []
    for weight in WEIGHTS:
        for margin in (MARGINS if weight > 0 else (0.0,)):
            hyps = [b[pick_best(b, lang, weight, lm=lm, margin=margin)][0] for _, b in rows]
            table.append({"weight": weight, "margin": margin, "error": round(error_rate(refs, hyps, lang), 4)})
    return table


def run_tune(draws: int = 2, options: AsrOptions | None = None, limit: int | None = None) -> dict:
    t0 = time.perf_counter()
    beams = collect_dev_beams(draws=draws, options=options, limit=limit)
    out: dict = {"split": "dev", "clips": len(beams), "draws": draws, "languages": {}}
    for lang in ("en", "zh"):
        table = grid(beams, lang)
        best = min(table, key=lambda r: (r["error"], r["weight"], -r["margin"]))
        top = next(r for r in table if r["weight"] == 0.0)
        out["languages"][lang] = {"top_beam_error": top["error"], "best": best, "grid": table}
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out

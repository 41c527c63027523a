"""Turn-taking figures over finished calls, for `dialwise demo`, `dialwise bench call` and a campaign's summary.

Per callee turn the session records its latency (agent/call_turns.py): `voice_to_voice_ms`, the silence the
complete-answer endpointer waited (`taken_after_ms`), its reason and whether it answered `early`. Per call it
counts cut-ins, backchannels let through and barge-ins (agent/session.py CallResult). Every figure here is
computed from those records, over all calls and per language (zh and en are told apart: one pooled figure
hides a language that misses its target).
"""
from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return round(xs[lo] + (xs[hi] - xs[lo]) * (k - lo), 1)


def real_barge_ins(result: Any) -> int:
    """Speech over the agent that stopped it for good. Every bid stops the agent at once and is noted in
    `barge_ins`; a bid found to be only a backchannel then lets the agent go on (`backchannels`), so it is
    not a barge-in."""
    return max(0, len(result.barge_ins) - result.backchannels)


def turn_taking(results: Iterable[Any], latencies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The complete-answer endpointer's figures over some calls (agent/turn_taking.py). `latencies`: the turns
    to count (default: every turn of `results`), so a bench that stops at N turns reports over those N."""
    results = list(results)
    lats = [lat for r in results for lat in r.latencies] if latencies is None else latencies
    v2v = [lat["voice_to_voice_ms"] for lat in lats if lat.get("voice_to_voice_ms") is not None]
    taken = [lat["taken_after_ms"] for lat in lats if lat.get("taken_after_ms") is not None]
    reasons = Counter((lat.get("endpoint_reason") or "?").split(":")[0] for lat in lats)
    read = [lat["asr_started_after_ms"] for lat in lats if lat.get("asr_started_after_ms") is not None]
    return {"turns": len(lats),
            "voice_to_voice_ms": {"p50": percentile(v2v, 0.5), "p95": percentile(v2v, 0.95), "n": len(v2v)},
            "early_share": round(sum(1 for lat in lats if lat.get("early")) / len(lats), 3) if lats else None,
            # the silence after the end of voice the endpointer waited before taking the turn
            "taken_after_ms": {"p50": percentile(taken, 0.5), "p95": percentile(taken, 0.95)},
            # silence after the end of voice when the speculative reading started (early_asr_ms or the pause)
            "reading_started_after_ms": {"p50": percentile(read, 0.5), "n": len(read)},
            "reasons": dict(reasons), "cut_ins": sum(r.cut_ins for r in results),
            "backchannels": sum(r.backchannels for r in results),
            "barge_ins": sum(real_barge_ins(r) for r in results)}


def by_language(pairs: Iterable[tuple[str, Any]]) -> dict[str, dict[str, Any]]:
    """`turn_taking` per language over (language, call result) pairs."""
    grouped: dict[str, list[Any]] = {}
    for lang, result in pairs:
        grouped.setdefault(lang, []).append(result)
    return {lang: turn_taking(grouped[lang]) for lang in sorted(grouped)}


def describe(tt: dict[str, Any]) -> str:
    """One line of a summary: the figures a reader checks against the turn-taking targets."""
    v2v, taken = tt["voice_to_voice_ms"], tt["taken_after_ms"]
    return (f"voice-to-voice p50 {v2v['p50']} / p95 {v2v['p95']} ms over {v2v['n']} turns; "
            f"{tt['early_share']} taken early; silence waited p50 {taken['p50']} / p95 {taken['p95']} ms; "
            f"cut-ins {tt['cut_ins']}, backchannels let through {tt['backchannels']}, barge-ins {tt['barge_ins']}")


def bench_figures(connected: list[Any], turns: int) -> dict[str, Any]:
    """`bench call`'s figures over its connected calls' reports (agent/runner.py AttemptReport), in the order the
    calls ran, stopping at `turns` callee turns: every per-turn figure counts the same first `turns` turns, and
    the per-call counts (cut-ins, backchannels, barge-ins) count the calls those turns came from."""
    rows = [(rep, lat) for rep in connected for lat in rep.result.latencies][:turns]
    lats = [lat for _, lat in rows]
    calls = [rep for rep in connected if any(r is rep for r, _ in rows)]
    v2v = [lat["voice_to_voice_ms"] for lat in lats]
    heard = [ms for rep in calls for ms in rep.callee_latency_ms]
    stages: dict[str, list[float]] = {}
    for lat in lats:
        for k, v in lat.items():
            if k.endswith("_ms") and k != "voice_to_voice_ms" and isinstance(v, (int, float)) \
                    and not isinstance(v, bool):
                stages.setdefault(k, []).append(v)
    langs = sorted({rep.language for rep in calls})
    return {
        "turns": len(lats),
        "voice_to_voice_ms": {"p50": percentile(v2v, 0.5), "p95": percentile(v2v, 0.95),
                              "mean": round(statistics.fmean(v2v), 1) if v2v else None},
        "as_heard_by_callee_ms": {"p50": percentile(heard, 0.5), "p95": percentile(heard, 0.95), "n": len(heard)},
        "stages_ms": {k: {"p50": percentile(v, 0.5), "p95": percentile(v, 0.95)} for k, v in sorted(stages.items())},
        "speculative_asr_share": round(sum(bool(lat.get("asr_speculative")) for lat in lats) / len(lats), 3)
        if lats else None,
        "turn_taking": turn_taking([rep.result for rep in calls], lats),
        "turn_taking_by_language": {
            lang: turn_taking([rep.result for rep in calls if rep.language == lang],
                              [lat for rep, lat in rows if rep.language == lang]) for lang in langs},
    }

"""Turn-taking figures of `bench call`, `dialwise demo` and a campaign's summary (issue 19): computed from the
calls' own records, per language, a backchannel is not also a barge-in, and `bench call` counts the same
first N turns in every figure."""
from __future__ import annotations

from agent.call_figures import bench_figures, by_language, turn_taking
from agent.runner import AttemptReport
from agent.session import CallResult


def _lat(v2v: float, taken: int, early: bool, reason: str = "complete") -> dict:
    return {"voice_to_voice_ms": v2v, "taken_after_ms": taken, "early": early, "endpoint_reason": reason,
            "asr_speculative": True, "asr_started_after_ms": 200, "endpoint_ms": taken + 5.0}


def _call(i: int, lats: list[dict], cut_ins: int = 0, backchannels: int = 0,
          barge_ins: int = 0) -> CallResult:
    return CallResult(call_id=f"c{i}", outcome="ptp", slots={}, end_reason="completed", turns=2 * len(lats),
                      latencies=lats, barge_ins=[50.0] * barge_ins, cut_ins=cut_ins, backchannels=backchannels)


def _rep(i: int, lang: str, result: CallResult) -> AttemptReport:
    return AttemptReport(attempt_id=f"a{i}", account_id=f"acc{i}", script_id="s", language=lang, status="done",
                         result=result, callee_latency_ms=[lat["voice_to_voice_ms"] + 100 for lat in result.latencies])


ZH = _call(1, [_lat(400, 400, True), _lat(1000, 900, False, "unsure: level end")], cut_ins=1,
           backchannels=2, barge_ins=3)
EN = _call(2, [_lat(300, 400, True), _lat(320, 400, True), _lat(340, 400, True, "complete")], backchannels=0,
           barge_ins=1)


def test_turn_taking_counts_what_the_calls_recorded():
    tt = turn_taking([ZH, EN])
    assert tt["turns"] == 5
    assert tt["voice_to_voice_ms"] == {"p50": 340.0, "p95": 880.0, "n": 5}
    assert tt["early_share"] == 0.8
    assert tt["taken_after_ms"] == {"p50": 400.0, "p95": 800.0}
    assert tt["reasons"] == {"complete": 4, "unsure": 1}
    assert (tt["cut_ins"], tt["backchannels"]) == (1, 2)


def test_a_backchannel_is_not_also_a_barge_in():
    # every bid over the agent stops it and is noted; the two found to be backchannels let the agent go on
    assert turn_taking([ZH])["barge_ins"] == 1
    assert turn_taking([EN])["barge_ins"] == 1


def test_figures_per_language_keep_the_languages_apart():
    per = by_language([("zh", ZH), ("en", EN)])
    assert list(per) == ["en", "zh"]
    assert per["zh"]["voice_to_voice_ms"] == {"p50": 700.0, "p95": 970.0, "n": 2}
    assert per["en"]["voice_to_voice_ms"]["p95"] == 338.0
    assert per["zh"]["early_share"] == 0.5 and per["en"]["early_share"] == 1.0
    assert per["zh"]["cut_ins"] == 1 and per["en"]["cut_ins"] == 0


def test_bench_call_counts_the_same_first_turns_in_every_figure():
    reps = [_rep(1, "en", EN), _rep(2, "zh", ZH), _rep(3, "zh", _call(3, [_lat(5000, 900, False)], cut_ins=4))]
    out = bench_figures(reps, turns=4)
    assert out["turns"] == 4
    assert out["voice_to_voice_ms"]["p50"] == 330.0  # 300, 320, 340, 400: the 1000 and 5000 ms turns are past N
    assert out["turn_taking"]["turns"] == 4 and out["turn_taking"]["voice_to_voice_ms"]["n"] == 4
    assert out["turn_taking"]["cut_ins"] == 1  # the third call gave no counted turn
    assert out["as_heard_by_callee_ms"]["n"] == 5  # the two calls the turns came from
    assert out["turn_taking_by_language"]["zh"]["turns"] == 1
    assert out["turn_taking_by_language"]["en"]["turns"] == 3
    assert out["stages_ms"]["taken_after_ms"]["p50"] == 400.0
    assert "early" not in {k for k in out["stages_ms"]}

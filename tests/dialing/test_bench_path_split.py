"""The benches' per-turn split of the network's part of voice-to-voice (agent/dialing/bench_levels.py):
the callee's view (its carrier's report) lined up with the session's own timestamps on one monotonic clock."""
from __future__ import annotations

from agent.dialing.bench_levels import path_split


def test_each_heard_turn_is_split_into_inbound_and_outbound_against_the_session_s_own_turn():
    rows = [("sid-1", "answered", "call-1", "ptp")]
    calls = {"sid-1": {"caller": {"turn_end_at": [100.0, 110.0], "reply_heard_at": [101.1, 111.2]}}}
    # the session's turns: (end of voice, first agent audio, silence waited in ms); one from an earlier turn
    marks = {"call-1": [(90.0, 90.9, 700.0), (100.06, 101.02, 900.0), (110.04, 111.14, 1000.0)]}
    split = path_split(rows, calls, marks)
    assert split["inbound"] == [60.0, 40.0]
    assert split["outbound"] == [80.0, 60.0]
    assert split["beyond_wait"] == [200.0, 200.0]  # heard 1100 ms - 900 ms waited; 1200 - 1000


def test_a_heard_turn_without_a_session_turn_inside_it_is_left_out():
    rows = [("sid-1", "answered", "call-1", None), ("sid-2", "failed", "call-2", None)]
    calls = {"sid-1": {"caller": {"turn_end_at": [5.0], "reply_heard_at": [6.0]}}, "sid-2": {"caller": None}}
    marks = {"call-1": [(6.5, 7.0, 500.0)]}  # after the reply was heard: not this turn's
    assert path_split(rows, calls, marks) == {"inbound": [], "outbound": [], "beyond_wait": [], "turns": []}


def test_the_twilio_turns_bench_counts_the_calls_that_passed_the_id_check():
    from agent.bench_turns_twilio import past_id_check

    turns = [("a", "ask_last4"), ("a", "promise_date"), ("a", "read_back"),  # on script
             ("b", "ask_last4"), ("b", "ask_last4"), ("b", "ask_last4"),  # the digits misread: asked again
             ("x", "promise_date")]  # the first call after start, left out
    assert past_id_check(["a", "b"], turns) == (1, 2)
    assert past_id_check(["b"], [("b", "opening"), ("b", None)]) == (0, 1)


def test_the_twilio_turns_bench_reports_where_each_modes_time_goes():
    from agent.bench_turns_twilio import _summary

    records = [{"voice_to_voice_ms": 405.0, "asr_started_after_ms": 100, "taken_after_ms": 400, "early": True,
                "endpoint_reason": "complete: affirm"}]
    out = _summary([500.0, 520.0], [400.0, 410.0], records, inbound=[80.0, 60.0], outbound=[12.0, 18.0])
    assert out["path_ms"]["n"] == 2
    assert 60.0 <= out["path_ms"]["inbound_p50"] <= 80.0 and 12.0 <= out["path_ms"]["outbound_p50"] <= 18.0
    assert out["endpoint_reasons"] == {"complete": 1} and out["taken_early_share"] == 1.0
    assert _summary([], [], [], [], [])["path_ms"] == {"inbound_p50": None, "inbound_p95": None, "outbound_p50": None,
                                               "outbound_p95": None, "n": 0}

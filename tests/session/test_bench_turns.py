"""`dialwise bench turns`' replay model: which silences a mode reads, when its reading starts (the early reading,
a busy ASR worker), when it commits, and what counts as a cut-in. Timelines are built by hand (no audio)."""
from __future__ import annotations

from agent.bench_turns import Pause, Replay, decide, node_waits, over_agent, summarize
from agent.turn_taking import TurnSettings
from agent.turnset import Turn
from nlu.complete import Verdict

COMPLETE, INCOMPLETE = Verdict("complete", "affirm"), Verdict("incomplete", "trailing and")


def _rep(kind: str, *pauses: Pause) -> Replay:
    turn = Turn("t/0/c", "t", "en", "dev", kind, "identity", "Yes.", 0, "en-us")
    return Replay(turn, list(pauses))


def _pause(end: int, resumed: int | None, verdict: Verdict, asr_ms: float = 300.0) -> Pause:
    return Pause(end_ms=end, detected_ms=end + 60, resumed_ms=resumed, text="yes", asr_ms=asr_ms, nlu_ms=0.0,
                 verdict=verdict)


def test_the_early_reading_starts_at_its_threshold_and_the_answer_is_taken_when_the_words_are_read():
    rep = _rep("complete", _pause(1000, None, COMPLETE))
    early = decide(rep, TurnSettings(early_asr_ms=100), tts_ms=0.0)
    at_pause = decide(rep, TurnSettings(early_asr_ms=0), tts_ms=0.0)
    assert early["read_from_ms"] == 100 and at_pause["read_from_ms"] == 200
    assert early["v2v_ms"] == 400 and at_pause["v2v_ms"] == 500  # start + 300 ms of ASR
    assert early["decodes"] == at_pause["decodes"] == 1


def test_the_baseline_waits_the_nodes_fixed_silence_even_when_the_words_are_ready():
    rep = _rep("complete", _pause(1000, None, COMPLETE, asr_ms=50.0))
    base = TurnSettings(complete_answers=False, backchannels=False)
    eos = node_waits("identity", base).eos_ms
    out = decide(rep, base, tts_ms=0.0)
    assert out["commit_ms"] == eos and out["read_from_ms"] == 200  # no early reading in the baseline


def test_a_silence_too_short_for_a_mode_is_not_read_by_it():
    rep = _rep("paused", _pause(1000, 1150, INCOMPLETE), _pause(2000, None, COMPLETE))
    assert decide(rep, TurnSettings(early_asr_ms=100), 0.0)["decodes"] == 2  # 150 ms: read early, then dropped
    assert decide(rep, TurnSettings(early_asr_ms=0), 0.0)["decodes"] == 1  # under the 200 ms pause


def test_a_dropped_reading_keeps_the_worker_busy_so_the_next_one_waits_for_the_pause():
    # the first reading (at 1100) decodes until 1900; at 2000 + 100 the worker is free again
    rep = _rep("paused", _pause(1000, 1150, INCOMPLETE, asr_ms=800.0), _pause(1300, None, COMPLETE))
    out = decide(rep, TurnSettings(early_asr_ms=100), 0.0)
    assert out["read_from_ms"] == 1900 - 1300  # busy at 1400: waited for the worker, past the 200 ms pause


def test_an_answer_taken_before_the_callee_goes_on_is_a_cut_in():
    # complete words at the mid-answer pause, read at 100 + 50 ms: taken at the 200 ms minimum, callee back at 500
    rep = _rep("paused", _pause(1000, 1500, COMPLETE, asr_ms=50.0), _pause(2500, None, COMPLETE, asr_ms=50.0))
    assert decide(rep, TurnSettings(early_asr_ms=100), 0.0)["cut_ins"] == 1
    incomplete = _rep("paused", _pause(1000, 1500, INCOMPLETE, asr_ms=50.0), _pause(2500, None, COMPLETE))
    assert decide(incomplete, TurnSettings(early_asr_ms=100), 0.0)["cut_ins"] == 0  # waited the maximum


def test_a_slow_reading_hides_a_cut_in_that_instant_words_show():
    # the first part is judged complete, but its words (900 ms of ASR) come after the callee went on (600 ms)
    rep = _rep("paused", _pause(1000, 1600, COMPLETE, asr_ms=900.0), _pause(2500, None, COMPLETE))
    s = TurnSettings(early_asr_ms=0)
    assert decide(rep, s, 0.0)["cut_ins"] == 0
    assert decide(rep, s, 0.0, asr_scale=0.0)["cut_ins"] == 1


def test_the_replay_applies_each_languages_own_settings():
    # both read early by default (PER_LANG: session 9, 60 ms since session 16); zh waits longer when unsure
    en = _rep("complete", _pause(1000, None, COMPLETE))
    zh = Replay(Turn("t/0/c", "t", "zh", "dev", "complete", "identity", "是我。", 0, "cmn"),
                [_pause(1000, None, COMPLETE)])
    assert decide(en, TurnSettings(), 0.0)["read_from_ms"] == 60
    assert decide(zh, TurnSettings(), 0.0)["read_from_ms"] == 60
    assert decide(zh, TurnSettings(early_asr_ms=0), 0.0)["read_from_ms"] == 200
    unsure = Verdict("unsure", "x")
    en_u = _rep("complete", _pause(1000, None, unsure, asr_ms=0.0))
    zh_u = Replay(zh.turn, [_pause(1000, None, unsure, asr_ms=0.0)])
    off = TurnSettings(prosody=False)
    assert decide(zh_u, off, 0.0)["commit_ms"] - decide(en_u, off, 0.0)["commit_ms"] == 150


def _over(*pauses: Pause) -> Replay:
    turn = Turn("i/0", "i", "en", "dev", "interruption", None, "Wait, I already paid this.", 0, "piper")
    return Replay(turn, list(pauses), onset_ms=540, started_emitted_ms=660)


def _said(end: int, resumed: int | None, text: str, intent: str) -> Pause:
    from nlu.types import Understanding

    u = Understanding(intent=intent, confidence=0.95, text=text, lang="en", entities={})
    return Pause(end_ms=end, detected_ms=end + 200, resumed_ms=resumed, text=text, asr_ms=100.0, nlu_ms=4.0,
                 understanding=u)


def test_over_the_agent_a_reading_dropped_because_speech_came_back_is_never_judged():
    """The live Listener drops the reading of "Wait." when the callee goes on 230 ms later (200 ms pause + 104 ms
    to judge): the whole "Wait, I already paid this." is judged, a bid, and taken. Judging the first part alone
    (a short non-bid: a backchannel) counted piper's interruptions as missed."""
    first, whole = _said(880, 1110, "Wait.", "out_of_scope"), _said(2220, None, "Wait, I already paid this.",
                                                                      "already_paid")
    out = over_agent(_over(first, whole), TurnSettings(), baseline=False)
    assert out["barge_in"] and out["resumed_first"] == 0 and out["text"] == "Wait, I already paid this."
    assert out["clear_ms"] == 660 - 540 + 20


def test_over_the_agent_speech_after_a_backchannel_verdict_is_a_new_onset_and_may_still_barge_in():
    # "Okay." judged (the callee silent 520 ms): a backchannel, the agent resumes; then the rest is a bid
    first, rest = _said(880, 1400, "Okay.", "affirm"), _said(2220, None, "Okay, but I already paid this.",
                                                             "already_paid")
    out = over_agent(_over(first, rest), TurnSettings(), baseline=False)
    assert out["barge_in"] and out["resumed_first"] == 1
    wait = _said(880, 1400, "Wait.", "affirm")  # asks the agent to stop: taken at once, never resumed over
    assert over_agent(_over(wait, rest), TurnSettings(), baseline=False)["resumed_first"] == 0
    lone = over_agent(_over(_said(880, None, "Yeah.", "affirm")), TurnSettings(), baseline=False)
    assert not lone["barge_in"] and lone["resume_after_ms"] == 200 + 104
    rows = [{"kind": "interruption", "baseline": over_agent(_over(first, rest), TurnSettings(), True), "complete": out}]
    assert summarize(rows)["complete"]["interruptions_after_a_resume"] == 1

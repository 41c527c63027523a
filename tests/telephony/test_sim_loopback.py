"""The loopback line: 8 kHz μ-law 20 ms framing, real-time pacing (the agent end is the production
PacedTransport), marks, clear, hangup, DTMF, malformed frames and the latency stamps. No models:
tones stand in for speech."""
from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from telephony_adapter.base import AudioIn, DtmfIn, Hangup, MarkPlayed, Start
from telephony_adapter.loopback import (
    FRAME_BYTES,
    FRAME_SAMPLES,
    AgentFrame,
    AgentHangup,
    LoopbackLine,
    Transferred,
    frame_rms,
)

pytestmark = pytest.mark.timeout(60)


def tone(seconds: float, rate: int = 16000, hz: float = 440.0, amp: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * amp).astype(np.int16)


async def started_line() -> LoopbackLine:
    line = LoopbackLine("t1", {"lang": "en"})
    await line.start()
    first = await line.agent.receive()
    assert isinstance(first, Start) and first.call_id == "t1" and first.params == {"lang": "en"}
    return line


async def collect_agent_frames(line: LoopbackLine, seconds: float) -> list[AgentFrame]:
    frames: list[AgentFrame] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            ev = await asyncio.wait_for(line.customer.receive(), end - time.monotonic())
        except TimeoutError:
            break
        if isinstance(ev, AgentFrame):
            frames.append(ev)
        else:
            break
    return frames


async def test_agent_audio_is_framed_at_20ms_and_paced_in_real_time():
    line = await started_line()
    t0 = time.monotonic()
    await line.agent.send_audio(tone(1.0), 16000)  # 16 kHz in, 8 kHz μ-law on the wire
    frames = await collect_agent_frames(line, 1.5)
    voiced = [f for f in frames if frame_rms(f.pcm) > 1000]
    assert all(len(f.pcm) == FRAME_SAMPLES and f.pcm.dtype == np.int16 for f in frames)
    assert 49 <= len(voiced) <= 51  # 1 s = 50 frames
    span = voiced[-1].at - voiced[0].at
    assert 0.9 <= span <= 1.1, span  # one frame per 20 ms of wall clock, not a burst
    gaps = np.diff([f.at for f in frames])
    assert abs(float(np.mean(gaps)) - 0.020) < 0.003
    # the line never runs ahead of real time: audio released <= wall clock elapsed (+1 frame)
    assert line.max_lead_s <= 0.021
    assert voiced[-1].at - t0 >= 0.95
    # the tone survives the μ-law channel
    spectrum = np.abs(np.fft.rfft(np.concatenate([f.pcm for f in voiced[5:45]]).astype(float)))
    peak_hz = np.argmax(spectrum) * 8000 / (40 * FRAME_SAMPLES)
    assert abs(peak_hz - 440) < 10
    await line.close()


async def test_audio_sent_in_small_chunks_is_reframed_without_gaps():
    line = await started_line()
    pcm = tone(0.5, rate=8000)
    for i in range(0, len(pcm), 37):  # odd chunk sizes, as a streaming TTS would hand them over
        await line.agent.send_audio(pcm[i : i + 37], 8000)
    assert line.agent.queued_ms >= 480
    frames = await collect_agent_frames(line, 0.8)
    voiced = [f for f in frames if frame_rms(f.pcm) > 1000]
    assert len(voiced) == 25
    await line.close()


async def test_mark_comes_back_after_the_audio_before_it_has_played():
    line = await started_line()
    t0 = time.monotonic()
    await line.agent.send_audio(tone(0.6), 16000)
    await line.agent.mark("first")
    await line.agent.send_audio(tone(0.4), 16000)
    await line.agent.mark("second")
    seen: list[tuple[str, float]] = []
    while len(seen) < 2:
        ev = await line.agent.receive()
        if isinstance(ev, MarkPlayed):
            seen.append((ev.name, time.monotonic() - t0))
    assert [n for n, _ in seen] == ["first", "second"]
    assert 0.58 <= seen[0][1] <= 0.75, seen
    assert 0.98 <= seen[1][1] <= 1.15, seen
    await line.close()


async def test_clear_drops_queued_audio_at_once_and_its_marks_never_return():
    line = await started_line()
    await line.agent.send_audio(tone(3.0), 16000)
    await line.agent.mark("end-of-prompt")
    await asyncio.sleep(0.3)
    await line.agent.clear()
    t_clear = time.monotonic()
    assert line.agent.queued_ms == 0
    frames = await collect_agent_frames(line, 0.6)
    late_voiced = [f for f in frames if f.at > t_clear + 0.025 and frame_rms(f.pcm) > 1000]
    assert late_voiced == []
    assert line.agent.marks_cleared == ["end-of-prompt"]
    assert line.agent.frames_cleared > 100  # ~2.7 s of the 3 s were still queued
    # no MarkPlayed arrives for the cleared mark
    events = []
    while not line.agent._events.empty():
        ev = await line.agent.receive()
        events.append(ev)
    assert not any(isinstance(e, MarkPlayed) for e in events)
    await line.close()


async def test_agent_hangup_lets_queued_speech_finish_then_reaches_the_customer():
    line = await started_line()
    await line.agent.send_audio(tone(0.6), 16000)
    await asyncio.sleep(0.1)
    t0 = time.monotonic()
    await line.agent.hangup("completed")  # as on every network: the queued 0.5 s plays out first
    assert 0.4 <= time.monotonic() - t0 <= 0.9
    voiced = 0
    while not isinstance(ev := await line.customer.receive(), AgentHangup):
        voiced += isinstance(ev, AgentFrame) and frame_rms(ev.pcm) > 1000
    assert 29 <= voiced <= 31  # all of the 0.6 s was heard
    assert ev.reason == "completed" and ev.by == "agent"
    for _ in range(3):
        ev = await line.agent.receive()
        while isinstance(ev, AudioIn):
            ev = await line.agent.receive()
        assert isinstance(ev, Hangup) and ev.reason == "completed"
    assert await line.agent.transfer("+15550100") is False  # the call is over
    await line.close()


async def test_customer_hanging_up_mid_sentence_keeps_what_was_already_said():
    line = await started_line()
    uid = await line.customer.say(tone(2.0), 16000, wait=False)
    await asyncio.sleep(0.5)
    await line.customer.hangup()
    got_voiced = 0
    while True:
        ev = await line.agent.receive()
        if isinstance(ev, AudioIn):
            got_voiced += frame_rms(ev.pcm) > 1000
        elif isinstance(ev, Hangup):
            assert ev.reason == "hangup"
            break
    assert 20 <= got_voiced <= 30  # ~0.5 s of the 2 s sentence reached the agent, then silence
    await line.customer.wait_played(uid)  # released, not stuck
    assert isinstance(await line.agent.receive(), Hangup)
    await line.close()


async def test_customer_audio_reaches_agent_as_8khz_frames_in_real_time_and_dtmf_in_order():
    line = await started_line()
    t0 = time.monotonic()
    await line.customer.say(tone(0.4, hz=300), 16000, wait=False)
    await line.customer.send_dtmf("4")
    await line.customer.send_dtmf("#")
    with pytest.raises(ValueError):
        await line.customer.send_dtmf("x")
    order: list[str] = []
    while len([o for o in order if o.startswith("dtmf")]) < 2:
        ev = await line.agent.receive()
        if isinstance(ev, AudioIn):
            assert ev.sample_rate == 8000 and len(ev.pcm) == FRAME_SAMPLES and ev.pcm.dtype == np.int16
            if frame_rms(ev.pcm) > 1000:
                order.append("voice")
        elif isinstance(ev, DtmfIn):
            order.append(f"dtmf{ev.digit}")
    assert order[-2:] == ["dtmf4", "dtmf#"] and order.count("voice") == 20
    assert time.monotonic() - t0 >= 0.38  # 0.4 s of speech took 0.4 s to arrive
    await line.close()


@pytest.mark.parametrize("bad", [b"", b"\xff", b"\xff" * (FRAME_BYTES - 1), b"\xff" * (FRAME_BYTES + 1),
                                 b"\xff" * 320, "not bytes", "不是字节", None])
async def test_malformed_frames_end_the_call_with_a_protocol_error_never_an_exception(bad):
    line = await started_line()
    line.customer.send_raw(bad)
    ev = await line.agent.receive()  # no exception: an event the session understands
    while isinstance(ev, AudioIn):
        ev = await line.agent.receive()
    assert isinstance(ev, Hangup) and ev.reason == "protocol_error"
    assert ev.error and ev.error.startswith("protocol error: loopback:")
    assert line.agent.protocol_error and "loopback" in line.agent.protocol_error
    assert isinstance(await line.agent.receive(), Hangup)  # and forever after
    ended = await line.customer.receive()
    while isinstance(ended, AgentFrame):
        ended = await line.customer.receive()
    assert isinstance(ended, AgentHangup) and ended.reason == "protocol_error" and ended.by == "line"
    await line.agent.hangup("protocol_error")  # what a session then does: harmless
    await line.close()


async def test_a_bad_keypress_is_dropped_and_the_call_goes_on():
    from telephony_adapter.serializers.loopback import Keypress

    line = await started_line()
    line.customer.send_raw(Keypress("x"))
    await line.customer.send_dtmf("7")
    while not isinstance(ev := await line.agent.receive(), DtmfIn):
        assert not isinstance(ev, Hangup)
    assert ev.digit == "7" and line.agent.wire_errors == 1 and line.ended is None
    await line.close()


async def test_transfer_hands_the_customer_over_and_ends_the_agent_leg():
    line = await started_line()
    assert await line.agent.transfer("human-queue") is True
    ev = await line.customer.receive()
    while isinstance(ev, AgentFrame):
        ev = await line.customer.receive()
    assert isinstance(ev, Transferred) and ev.target == "human-queue"
    ev = await line.agent.receive()
    while isinstance(ev, AudioIn):
        ev = await line.agent.receive()
    assert isinstance(ev, Hangup) and ev.reason == "transferred"
    await line.close()


async def test_latency_stamps_measure_end_of_customer_speech_to_first_new_agent_frame():
    line = await started_line()
    speech = np.concatenate([tone(0.5, hz=300), np.zeros(4000, dtype=np.int16)])  # 0.25 s trailing silence
    await line.customer.say(speech, 16000, wait=False, label="hello")
    heard_end = None
    quiet = 0
    while True:  # a minimal "agent": answer 300 ms after the caller's voice stops
        ev = await line.agent.receive()
        if isinstance(ev, AudioIn):
            if frame_rms(ev.pcm) > 1000:
                heard_end, quiet = time.monotonic(), 0
            elif heard_end is not None:
                quiet += 1
                if quiet == 15:
                    break
    await line.agent.send_audio(tone(0.3), 16000)
    await collect_agent_frames(line, 0.2)
    sample = line.customer.latency[-1]
    assert sample.label == "hello"
    assert sample.speech_end_at is not None and sample.agent_audio_at is not None
    # end of *voiced* audio, not of the trailing silence; 15 quiet frames = 300 ms, plus < 1 tick
    assert 280 <= sample.latency_ms <= 380, sample.latency_ms
    await line.close()


async def test_old_agent_audio_does_not_count_as_a_reply():
    line = await started_line()
    await line.agent.send_audio(tone(1.5), 16000)  # the agent is mid-prompt
    await asyncio.sleep(0.1)
    await line.customer.say(tone(0.3, hz=300), 16000)  # caller talks over it
    await asyncio.sleep(0.3)
    assert line.customer.latency[-1].agent_audio_at is None  # still the old prompt playing
    await line.agent.send_audio(tone(0.2), 16000)
    await asyncio.sleep(1.4)
    assert line.customer.latency[-1].agent_audio_at is not None
    await line.close()


async def test_a_serializer_bug_ends_the_call_cleanly_not_the_reader(monkeypatch):
    line = await started_line()

    def broken(wire):
        raise KeyError("a bug")

    monkeypatch.setattr(line.agent.serializer, "deserialize", broken)
    line.customer.send_raw(b"\xff" * FRAME_BYTES)
    ev = await line.agent.receive()
    assert isinstance(ev, Hangup) and ev.reason == "protocol_error" and "KeyError" in (ev.error or "")
    await line.close()


async def test_hangup_after_every_task_was_cancelled_does_not_wait_for_audio_that_cannot_play():
    """At shutdown every task is cancelled, the pacers included: a hang-up then returns at once
    instead of waiting out the queued speech (bounded by its length + 2 s)."""
    line = await started_line()
    await line.agent.send_audio(tone(5.0), 16000)
    await asyncio.sleep(0.1)
    for task in asyncio.all_tasks() - {asyncio.current_task()}:
        task.cancel()
    await asyncio.sleep(0)
    t0 = time.monotonic()
    await line.agent.hangup("completed")
    assert time.monotonic() - t0 < 0.5
    ended = await line.customer.receive()
    while isinstance(ended, AgentFrame):
        ended = await line.customer.receive()
    assert isinstance(ended, AgentHangup) and ended.by == "agent"
    await line.close()

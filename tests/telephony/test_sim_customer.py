"""The simulated customer with the real models: it hears TTS prompts through the 8 kHz μ-law line
and Whisper, and answers with real audio (fixtures or TTS). The test plays the agent by hand."""
from __future__ import annotations

import asyncio
import time
from datetime import date

import numpy as np
import pytest

from telephony_adapter.base import AudioIn, Hangup, MarkPlayed
from telephony_adapter.loopback import LoopbackLine, frame_rms
from telephony_adapter.sim.customer import FixtureBank, SimulatedCustomer, whisper_transcriber
from telephony_adapter.sim.persona import Behaviour, Persona

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="session")
def transcriber():
    return whisper_transcriber()


@pytest.fixture(scope="session")
def bank():
    return FixtureBank()


def persona(lang: str, behaviour: Behaviour, **kw) -> Persona:
    base = dict(lang=lang, behaviour=behaviour, name="王芳" if lang == "zh" else "Emily Davis",
                id_last4="2580", balance=2000.0, currency="CNY" if lang == "zh" else "USD",
                promise_date=date(2026, 3, 5), seed=1)
    base.update(kw)
    return Persona(**base)


class HandAgent:
    """The agent side of the line driven by the test: speaks TTS, listens for the reply."""

    def __init__(self, line: LoopbackLine, lang: str) -> None:
        self.line, self.lang = line, lang
        self.marks: dict[str, float] = {}
        self.trailing: dict[str, float] = {}

    def last_word_at(self, text: str) -> float:
        return self.marks[text] - self.trailing[text]

    async def say(self, text: str) -> None:
        from speech.tts import create_tts

        speech = await asyncio.to_thread(create_tts(self.lang).synthesize, text, self.lang)
        await self.line.agent.send_audio(speech.pcm, speech.sample_rate)
        await self.line.agent.mark(text)
        loud = np.flatnonzero(np.abs(speech.pcm) > 1000)
        self.trailing[text] = (len(speech.pcm) - loud[-1]) / speech.sample_rate  # silence after the last word

    async def listen(self, quiet_s: float = 0.8, limit_s: float = 20.0):
        """-> (8 kHz audio of the reply, time its first voiced frame arrived, ended)"""
        frames, first, quiet = [], None, 0
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            ev = await asyncio.wait_for(self.line.agent.receive(), deadline - time.monotonic())
            if isinstance(ev, MarkPlayed):
                self.marks[ev.name] = time.monotonic()
            elif isinstance(ev, Hangup):
                return (np.concatenate(frames) if frames else np.zeros(0, np.int16)), first, True
            elif isinstance(ev, AudioIn):
                voiced = frame_rms(ev.pcm) > 300
                if voiced and first is None:
                    first = time.monotonic()
                if first is not None:
                    frames.append(ev.pcm)
                    quiet = 0 if voiced else quiet + 1
                    if quiet * 0.02 >= quiet_s:
                        return np.concatenate(frames), first, False
        raise AssertionError("the simulated customer never answered")


def similarity(received_8k: np.ndarray, fixture_pcm: np.ndarray, rate: int) -> float:
    """Peak normalised cross-correlation of two envelopes (robust to μ-law and resampling)."""
    from speech.audio import resample

    ref = resample(fixture_pcm, rate, 8000).astype(np.float64)

    def env(x):
        x = np.abs(x.astype(np.float64))
        n = len(x) // 80
        return x[: n * 80].reshape(n, 80).mean(axis=1)

    a, b = env(received_8k), env(ref)
    a, b = (a - a.mean()) / (a.std() + 1e-9), (b - b.mean()) / (b.std() + 1e-9)
    c = np.correlate(a, b, mode="full") / min(len(a), len(b))
    return float(c.max())


async def test_en_customer_hears_the_prompt_and_answers_with_the_matching_fixture(transcriber, bank):
    line = LoopbackLine("sim-en")
    await line.start()
    await line.agent.receive()  # Start
    sim = SimulatedCustomer(persona("en", Behaviour.DISPUTES), line.customer, transcriber=transcriber)
    task = asyncio.create_task(sim.run())
    agent = HandAgent(line, "en")

    await agent.say("Hello, this is Anna from Acme Finance. Am I speaking with Emily Davis?")
    reply1, first1, _ = await agent.listen()
    prompt1 = "Hello, this is Anna from Acme Finance. Am I speaking with Emily Davis?"
    assert first1 - agent.last_word_at(prompt1) >= 0.28  # it let the agent finish and paused, like a person

    await agent.say("Your payment of 300 dollars is past due. When can you make a payment?")
    reply2, _, _ = await agent.listen()
    await line.agent.hangup("completed")
    result = await task

    heard = [e for e in result.log if e.kind == "heard"]
    said = [e for e in result.log if e.kind == "said"]
    assert "payment" in heard[1].text.lower()  # it really transcribed the agent
    assert heard[1].intent == "when_pay"
    assert [e.intent for e in said] == ["confirm_identity", "dispute_debt"]
    fixture = bank.by_file[said[1].source]
    assert fixture.intent == "dispute_debt" and fixture.lang == "en"
    pcm, rate = bank.audio(fixture)
    assert similarity(reply2, pcm, rate) > 0.8  # the agent received that recording, over the line
    assert len(reply2) / 8000 >= 0.9 * len(pcm) / rate
    assert result.ended_by == "agent" and result.end_reason == "completed"
    assert len(result.latencies_ms) >= 1
    await line.close()


async def test_zh_customer_asks_for_a_human_with_the_zh_recording(transcriber, bank):
    line = LoopbackLine("sim-zh")
    await line.start()
    await line.agent.receive()
    sim = SimulatedCustomer(persona("zh", Behaviour.ASKS_HUMAN), line.customer, transcriber=transcriber)
    task = asyncio.create_task(sim.run())
    agent = HandAgent(line, "zh")
    await agent.say("您好，这里是安信金融，请问是王芳本人吗？")
    await agent.listen()
    await agent.say("您的账单已经逾期，请问您什么时候可以还款？")
    reply, _, _ = await agent.listen()
    await line.agent.hangup("completed")
    result = await task
    said = [e for e in result.log if e.kind == "said"]
    assert said[0].intent == "confirm_identity"
    assert said[1].intent == "request_human" and said[1].source == "zh_010.wav"
    pcm, rate = bank.audio(bank.by_file["zh_010.wav"])
    assert similarity(reply, pcm, rate) > 0.8
    await line.close()


async def test_voicemail_plays_greeting_and_beep_then_hangs_up_after_the_message(bank):
    line = LoopbackLine("sim-vm")
    await line.start()
    await line.agent.receive()
    sim = SimulatedCustomer(persona("en", Behaviour.VOICEMAIL), line.customer,
                            transcriber=lambda *_: pytest.fail("voicemail needs no ears"))
    task = asyncio.create_task(sim.run())
    agent = HandAgent(line, "en")
    greeting, _, _ = await agent.listen(quiet_s=1.0)
    loud = np.flatnonzero(np.abs(greeting) > 1000)
    tail = greeting[loud[-1] - int(0.35 * 8000): loud[-1]]
    spectrum = np.abs(np.fft.rfft(tail.astype(float)))
    assert abs(np.argmax(spectrum) * 8000 / len(tail) - 1000) < 20  # ends with a 1 kHz beep
    await agent.say("Hi Emily, this is Acme Finance, please call us back.")
    _, _, ended = await agent.listen(limit_s=15)  # nobody answers; the mailbox hangs up
    assert ended
    result = await task
    assert result.ended_by == "customer" and result.end_reason == "voicemail ended"
    assert [e.source for e in result.log if e.kind == "said"] == ["tts", "beep"]
    await line.close()


async def test_customer_hangs_up_in_the_middle_of_its_sentence(transcriber, bank):
    line = LoopbackLine("sim-hang")
    await line.start()
    await line.agent.receive()
    sim = SimulatedCustomer(persona("en", Behaviour.HANGS_UP, hangup_at_turn=0), line.customer,
                            transcriber=transcriber)
    task = asyncio.create_task(sim.run())
    agent = HandAgent(line, "en")
    await agent.say("Hello, am I speaking with Emily Davis?")
    audio, first, ended = await agent.listen()
    result = await task
    assert ended and result.ended_by == "customer" and result.end_reason == "hung up mid-sentence"
    said = [e for e in result.log if e.kind == "said"][0]
    full = (bank.audio(bank.by_file[said.source])[0].size / 16000) if said.source in bank.by_file else None
    voiced_s = sum(frame_rms(audio[i:i + 160]) > 300 for i in range(0, len(audio), 160)) * 0.02
    assert voiced_s > 0.2
    if full:
        assert voiced_s < 0.8 * full
    await line.close()

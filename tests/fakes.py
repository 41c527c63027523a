"""Shared fakes for the seams a call runs on: ASR, TTS, NLU, transport, store and clock.

With them a CallSession runs in milliseconds without Whisper, a voice or a database:

    asr, tts, nlu = FakeAsr(), FakeTts(), FakeNlu({"yes that's me": "confirm_identity"})
    deps = fake_deps(asr, tts, nlu)
    line = FakeTransport()
    session = CallSession(line, call_id="c1", account=..., script_id=..., deps=deps, store=FakeStore())

The VAD stays real (it is fast); speak to it with real recorded audio (`voice()`), and tell FakeAsr
what that audio "says" (`asr.text = ...`).
"""
from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from agent.config import Settings
from agent.pipeline import CallDeps
from agent.session import CallConfig, CallSession
from dialogs.library import script_for
from dialogs.types import Account
from nlu.types import Understanding
from speech.asr.base import Transcript
from speech.tts.base import Speech
from telephony_adapter.base import AudioIn, DtmfIn, Hangup, MarkPlayed, TransportEvent

VOICES = Path(__file__).resolve().parent.parent / "telephony_adapter" / "sim" / "voices"
RATE = 16000
FRAME = RATE // 50  # 20 ms


def voice(lang: str, intent: str) -> np.ndarray:
    """A real recorded callee line (16 kHz int16) of a language and an intent, for the real VAD to hear."""
    from speech.audio import read_audio, to_int16

    rows = [json.loads(x) for x in (VOICES / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x]
    item = next(r for r in rows if r["lang"] == lang and r["intent"] == intent)
    return to_int16(read_audio(VOICES / item["file"], RATE)[0])


class FakeAsr:
    """Hears whatever `text` says (set it before the callee speaks); counts the calls."""

    name = "fake-asr"

    def __init__(self, text: str = "", avg_logprob: float = 0.0, no_speech_prob: float = 0.0,
                 alternatives: list[tuple[str, float]] | None = None) -> None:
        self.text = text
        self.calls = 0
        self.prompts: list[str | None] = []  # the prompt of every call, in order
        self.avg_logprob, self.no_speech_prob = avg_logprob, no_speech_prob  # the decode's own confidence
        self.alternatives = alternatives or []  # Whisper's other beams

    def transcribe(self, audio: np.ndarray, language: str | None = None, prompt: str | None = None) -> Transcript:
        self.calls += 1
        self.prompts.append(prompt)
        return Transcript(text=self.text, language=language or "en", duration_s=len(audio) / RATE,
                          avg_logprob=self.avg_logprob, no_speech_prob=self.no_speech_prob,
                          alternatives=list(self.alternatives))


class FakeTts:
    """A quiet tone, `ms_per_char` long per character, after `lead_ms` of silence: timing without a voice."""

    name = "fake-tts"

    def __init__(self, ms_per_char: float = 5.0, lead_ms: float = 0.0) -> None:
        self.ms_per_char, self.lead_ms = ms_per_char, lead_ms
        self.said: list[str] = []

    def synthesize(self, text: str, lang: str, voice: str | None = None) -> Speech:
        self.said.append(text)
        n = max(FRAME, int(RATE * self.ms_per_char / 1000 * len(text)))
        t = np.arange(n) / RATE
        tone = (np.sin(2 * np.pi * 300 * t) * 2000).astype(np.int16)
        return Speech(pcm=np.concatenate([np.zeros(int(RATE * self.lead_ms / 1000), np.int16), tone]),
                      sample_rate=RATE)

    def stream(self, text: str, lang: str, voice: str | None = None):
        yield self.synthesize(text, lang, voice)


class FakeNlu:
    """classify(text, lang, context, today) from a text -> intent table (else out_of_scope)."""

    def __init__(self, intents: dict[str, str] | None = None, entities: dict[str, dict] | None = None) -> None:
        self.intents = dict(intents or {})
        self.entities = dict(entities or {})
        self.heard: list[tuple[str, str | None]] = []

    def __call__(self, text: str, lang: str, context: str | None = None, today: date | None = None) -> Understanding:
        self.heard.append((text, context))
        intent = self.intents.get(text, "out_of_scope")
        return Understanding(intent=intent, confidence=0.99 if intent != "out_of_scope" else 0.2, text=text,
                             lang=lang, entities=dict(self.entities.get(text, {})))


class FakeTransport:
    """An in-memory call leg. The test is the callee: `say`, `silence`, `press`, `hang_up`. Agent audio
    is kept in `sent`; with `play_instantly` every mark comes back at once, else on `play_marks()`."""

    inbound_rate = RATE

    def __init__(self, *, play_instantly: bool = True) -> None:
        self.play_instantly = play_instantly
        self.events: asyncio.Queue[TransportEvent] = asyncio.Queue()
        self.sent: list[np.ndarray] = []
        self.marks: list[str] = []
        self.pending_marks: list[str] = []
        self.cleared = 0
        self.hung_up: str | None = None
        self.transferred: str | None = None
        self.digits: list[str] = []

    # the Transport protocol
    async def receive(self) -> TransportEvent:
        if self.hung_up is not None and self.events.empty():
            return Hangup(self.hung_up)
        return await self.events.get()

    async def send_audio(self, pcm: np.ndarray, sample_rate: int) -> None:
        self.sent.append(np.asarray(pcm, dtype=np.int16))

    async def mark(self, name: str) -> None:
        self.marks.append(name)
        if self.play_instantly:
            self.events.put_nowait(MarkPlayed(name))
        else:
            self.pending_marks.append(name)

    async def clear(self) -> None:
        self.cleared += 1
        self.pending_marks.clear()  # marks behind cleared audio never come back

    async def hangup(self, reason: str = "completed") -> None:
        if self.hung_up is None:
            self.hung_up = reason

    async def transfer(self, target: str | None = None) -> bool:
        self.transferred = target or ""
        return True

    # the callee
    def play_marks(self) -> None:
        for name in self.pending_marks:
            self.events.put_nowait(MarkPlayed(name))
        self.pending_marks.clear()

    def say(self, pcm: np.ndarray) -> None:
        for i in range(0, len(pcm), FRAME):
            self.events.put_nowait(AudioIn(pcm=pcm[i:i + FRAME], sample_rate=RATE))

    def silence(self, seconds: float) -> None:
        self.say(np.zeros(int(RATE * seconds), dtype=np.int16))

    def press(self, digits: str) -> None:
        for d in digits:
            self.events.put_nowait(DtmfIn(d))

    def hang_up(self) -> None:
        self.events.put_nowait(Hangup("hangup"))

    @property
    def agent_audio_s(self) -> float:
        return sum(len(p) for p in self.sent) / RATE


@dataclass
class FakeStore:
    """The CallStore interface, in memory: turns by id, and how the call finished."""

    turns: dict[int, dict[str, Any]] = field(default_factory=dict)
    live: bool = False
    finished: dict[str, Any] | None = None

    def mark_live(self) -> None:
        self.live = True

    def add_turn(self, rec: Any) -> int:
        turn_id = len(self.turns) + 1
        self.turns[turn_id] = dict(vars(rec)) if hasattr(rec, "__dict__") else dict(rec)
        return turn_id

    def update_turn(self, turn_id: int | None, **changes: Any) -> None:
        if turn_id in self.turns:
            self.turns[turn_id].update(changes)

    def finish(self, outcome: str, slots: dict, end_reason: str, recording: str | None, error: str | None) -> None:
        self.finished = {"outcome": outcome, "slots": slots, "end_reason": end_reason, "error": error}

    def said_by(self, speaker: str) -> list[dict[str, Any]]:
        return [t for t in self.turns.values() if t.get("speaker") == speaker]


class FakeClock:
    """A monotonic clock the test moves: `clock()` is the time, `advance(s)` moves it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fake_deps(asr: FakeAsr | None = None, tts: FakeTts | None = None, nlu: FakeNlu | None = None) -> CallDeps:
    """CallDeps on the fakes (no prompt cache), with small pools; close() them after the test."""
    tts = tts or FakeTts()
    return CallDeps(
        settings=Settings(), asr=asr or FakeAsr(), classify=nlu or FakeNlu(), tts_by_lang={"zh": tts, "en": tts},
        prompt_cache=None, asr_pool=ThreadPoolExecutor(1, thread_name_prefix="fake-asr"),
        cpu_pool=ThreadPoolExecutor(2, thread_name_prefix="fake-cpu"),
    )


def en_account() -> Account:
    """The callee of the fake calls: a US card holder, 10 days past due."""
    return Account(name="Emily Johnson", language="en", balance=450.0, currency="USD", due_date=date(2026, 11, 13),
                   days_past_due=10, product="card", id_last4="1234", lender="Acme Bank", jurisdiction="US")


class FakeCalls:
    """Makes CallSessions on the fakes (one en collections call each, no AMD) and closes their deps:
    `with FakeCalls(today) as make: session, line, store = make(asr=..., silence_reprompt_s=...)`;
    keyword arguments other than the fakes are CallConfig fields."""

    def __init__(self, today: date) -> None:
        self.today = today
        self.made: list[CallDeps] = []

    def __call__(self, *, line: FakeTransport | None = None, asr: FakeAsr | None = None, nlu: FakeNlu | None = None,
                 tts: FakeTts | None = None, **config: Any) -> tuple[CallSession, FakeTransport, FakeStore]:
        deps = fake_deps(asr, tts, nlu)
        self.made.append(deps)
        line = line or FakeTransport()
        store = FakeStore()
        cfg = CallConfig(**{"amd": False, "network_timeout_s": 60, **config})
        session = CallSession(line, call_id="c1", account=en_account(), script_id=script_for("collections", "M1", "en"),
                              deps=deps, store=store, config=cfg, today=self.today)
        return session, line, store

    def __enter__(self) -> FakeCalls:
        return self

    def __exit__(self, *exc: object) -> None:
        for deps in self.made:
            deps.close()


async def until(pred, timeout: float = 5.0) -> None:
    """Wait (on the running loop) until `pred()` holds; fails the test after `timeout` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)

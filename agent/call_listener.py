"""The listening part of a CallSession: phone audio in, endpointing, turn-taking.

Each inbound frame goes to the recorder and the Endpointer (real VAD). At the callee's short pause the
speculative transcript starts; with it the NLU reads the words against the node's expectation and the
turn-taker (agent/turn_taking.py) sets how much more silence to wait: a complete answer is taken at the
node's minimum wait, an incomplete one waits up to its maximum, an unsure one the node's usual silence.

Speech over the agent stops the agent within a frame of the VAD onset (a real interruption, ~140 ms);
the rest of the agent's line is held, and if the words were only a backchannel ("嗯", "uh-huh", "对")
the agent resumes instead of taking a turn. Speech within `cut_in_window_ms` of an early answer is a
cut-in: the agent stops, the policy goes back to before that answer, and the two pieces are heard as one.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.recording import RATE as REC_RATE
from agent.turn_taking import (
    NodeWaits,
    TurnSettings,
    confidence_of,
    is_backchannel_turn,
    read_verdict,
    readings_of,
    wait_ms,
)


@dataclass
class Heard:
    """A speculative reading of the utterance up to a pause: transcript, understanding, verdict."""

    start_ms: int
    end_ms: int
    transcript: Any = None
    asr_compute: float = 0.0
    understanding: Any = None
    verdict: Any = None
    tail: Any = None
    asr_wall: float = 0.0
    nlu_wall: float = 0.0
    backchannel: bool = False  # only an acknowledgement over the agent's audio
    started_after_ms: int = 0  # silence after the end of voice when the reading started (stream time)


def arrival(frames: Sequence[tuple[int, float]], stream_ms: int) -> float | None:
    """When the line's audio up to stream time `stream_ms` had arrived: `frames` holds each frame's (stream ms at
    its end, monotonic arrival), in order, and the answer is the arrival of the first frame that ends at `stream_ms`
    or later (an end of voice, a frame's end: that frame; an onset's first sample, `at_ms + 1`: the frame it is in).
    None when no frame kept reaches it. Until session 15 an end of voice took the frame after it, 20 ms late, and
    every turn's `voice_to_voice_ms` read 20 ms short."""
    found = None
    for ms, wall in reversed(frames):
        if ms < stream_ms:
            break
        found = wall
    return found


@dataclass
class Utterance:
    audio: np.ndarray
    start_ms: int
    end_ms: int
    end_wall: float  # monotonic time the last voiced frame arrived
    hangup: bool = False
    heard: Heard | None = None  # the speculative reading of exactly this audio, when there is one
    over_agent: bool = False  # began while the agent was speaking (maybe a backchannel)
    taken_after_ms: int | None = None  # silence after the end of voice when the turn was taken
    reason: str = ""
    early: bool = False  # taken before the node's fixed silence
    cut: bool = False  # a cut-in followed: heard again with its continuation
    extra: dict[str, Any] = field(default_factory=dict)


class Listener:
    def __init__(self, session: Any, settings: TurnSettings, default_eos_ms: int) -> None:
        from speech.audio import StreamResampler
        from speech.endpoint import Endpointer
        from speech.vad import create_vad

        self.s = session
        self.settings = settings.for_lang(session.lang)
        settings = self.settings
        self.default_eos_ms = default_eos_ms
        self.waits = NodeWaits.of(None, settings, default_eos_ms)
        self.endpointer = Endpointer(create_vad(), eos_silence_ms=self._pending_wait(), pause_ms=settings.pause_ms)
        self._resampler: Any = None
        self._resampler_cls = StreamResampler
        self.line_rate = REC_RATE  # the inbound line's sample rate, from its first frame
        self._frames: deque[tuple[int, float]] = deque(maxlen=4000)  # (stream ms, monotonic)
        self.spec: tuple[Heard, asyncio.Task[Any]] | None = None
        self._asr_task: asyncio.Future[Any] | None = None  # this call's last speculative decode (runs on when dropped)
        self.early_reads = 0  # speculative transcripts started before `pause_ms` (CPU spent on the lever)
        self.in_speech = False
        self.speech_start_ms = 0
        self._onset_ms = 0
        self.onset_wall: float | None = None
        self.over_agent = False
        self.early: Utterance | None = None  # the last early answer, watched for a cut-in
        self.merge_from: int | None = None  # start of a cut utterance the next one is heard with

    def _pending_wait(self) -> int:
        return self.waits.max_ms if self.settings.complete_answers else self.waits.eos_ms

    def expect(self, decision: Any) -> None:
        """The agent asked something new: that node's waits apply to the next answer."""
        self.waits = NodeWaits.of(decision, self.settings, self.default_eos_ms)
        self.endpointer.set_eos_silence_ms(self._pending_wait())

    # ------------------------------------------------------------------ frames
    async def on_audio(self, pcm: np.ndarray, sample_rate: int, now: float) -> None:
        from speech.audio import to_float32

        if sample_rate != REC_RATE:
            if self._resampler is None:
                self._resampler = self._resampler_cls(sample_rate, REC_RATE)
                self.line_rate = sample_rate
            pcm = self._resampler.process(pcm)
        self.s.recorder.add_callee(pcm)
        self._frames.append((self.s.recorder.now_ms, now))
        for ev in self.endpointer.feed(to_float32(pcm)):
            await self.on_event(type(ev).__name__, ev, now)
        self._maybe_read_early()
        if (self.over_agent and self.in_speech and self.s.speaker.held
                and self.endpointer.now_ms - self._onset_ms > self.settings.backchannel_max_ms):
            self.over_agent = False  # too long for a backchannel: a real interruption
            await self.s.speaker.confirm_interrupt()

    def asr_audio(self, audio: np.ndarray) -> np.ndarray:
        """An utterance as the recogniser gets it: from a phone line (8 kHz or less), band-limited to the line's
        band, as the benches' channel gives it (the live resampler's images removed; speech.asr.frontend)."""
        if self.line_rate > 8000:
            return audio
        from speech.asr.frontend import band_limit

        return band_limit(audio, cutoff_hz=self.line_rate / 2)

    def wall_at(self, stream_ms: int) -> float:
        """Monotonic time at which the line's audio up to `stream_ms` had arrived (`arrival`); now when the frames
        kept do not reach it."""
        at = arrival(self._frames, stream_ms)
        return time.monotonic() if at is None else at

    def _start_of(self, ev: Any) -> int:
        return ev.start_ms if self.merge_from is None or self.merge_from >= ev.start_ms else self.merge_from

    def _audio(self, ev: Any) -> tuple[np.ndarray, int]:
        """The utterance's audio, with the piece before a cut-in in front of it."""
        if self.merge_from is None or self.merge_from >= ev.start_ms:
            return ev.audio, ev.start_ms
        from speech.audio import to_float32

        return to_float32(self.s.recorder.callee_audio(self.merge_from, ev.end_ms)), self.merge_from

    async def on_event(self, kind: str, ev: Any, now: float) -> None:
        s = self.s
        if kind == "SpeechStarted":
            self.in_speech = True
            at = getattr(ev, "at_ms", s.recorder.now_ms)
            self._onset_ms = at
            self.speech_start_ms = max(0, at - 200)
            s._last_activity = now
            self.onset_wall = self.wall_at(at + 1)  # the frame its first sample came in
            self._watch_cut_in(at)
            self.over_agent = False
            # the closing line of an ended conversation plays out; anything else yields to the callee
            if s.config.barge_in and s.speaker.speaking and not s.policy.ended:
                await s.speaker.interrupt(self.onset_wall or now, hold=self.settings.backchannels)
                self.over_agent = s.speaker.held
        elif kind == "SpeechPaused":
            spec = self.spec
            if spec is None or (spec[0].start_ms, spec[0].end_ms) != (self._start_of(ev), ev.end_ms):
                self._start_speculative(ev)  # else: the early reading of this very audio goes on
        elif kind == "SpeechResumed":
            self._drop_speculative()
            self.endpointer.set_eos_silence_ms(self._pending_wait())
        elif kind == "SpeechEnded":
            await self._ended(ev, now)

    async def _ended(self, ev: Any, now: float) -> None:
        s = self.s
        self.in_speech = False
        s._last_activity = now
        self.endpointer.set_eos_silence_ms(self._pending_wait())  # for the next utterance
        audio, start_ms = self._audio(ev)
        self.merge_from = None
        heard = None
        if self.spec is not None and self.spec[0].end_ms == ev.end_ms and self.spec[0].start_ms == start_ms:
            heard = self.spec[0]
        taken = self.endpointer.now_ms - ev.end_ms
        utt = Utterance(audio, start_ms, ev.end_ms, self.wall_at(ev.end_ms), heard=heard,
                        over_agent=self.over_agent, taken_after_ms=taken)
        if heard is None or heard.verdict is None:
            utt.reason = "fixed silence" if not self.settings.complete_answers else "silence (no verdict)"
        else:
            _, utt.reason = wait_ms(heard.verdict, heard.tail, s.lang, self.waits, self.settings)
        utt.early = self.settings.complete_answers and taken < self.waits.eos_ms and not ev.forced
        self.early = utt if utt.early else None
        self.over_agent = False
        await s._jobs.put(utt)

    # ------------------------------------------------------------------ cut-ins
    def _watch_cut_in(self, onset_ms: int) -> None:
        utt, self.early = self.early, None
        if utt is None or utt.cut or utt.taken_after_ms is None:
            return
        gap = onset_ms - (utt.end_ms + utt.taken_after_ms)
        if gap <= self.settings.cut_in_window_ms:
            self.merge_from = utt.start_ms
            self.s.cut_in(utt, float(gap))

    # ------------------------------------------------------------------ speculative reading
    def _maybe_read_early(self) -> None:
        """Start the speculative reading at `early_asr_ms` of silence rather than at the pause, when the answer
        is the callee's own turn (not speech over the agent) and this call's ASR worker is free."""
        st, ep = self.settings, self.endpointer
        if (not st.complete_answers or st.early_asr_ms <= 0 or self.over_agent
                or not ep.in_utterance or not st.early_asr_ms <= ep.silence_ms < st.pause_ms):
            return
        if self._asr_task is not None and not self._asr_task.done():
            return  # a dropped reading still decodes: wait for the pause rather than queue behind it
        spare = getattr(self.s.deps, "asr_spare", None)
        if spare is not None and not spare():
            return  # every ASR worker busy (other calls): the reading waits for the pause, as before
        ev = ep.voiced_so_far()
        if ev is not None and (self.spec is None or (self.spec[0].start_ms, self.spec[0].end_ms)
                               != (self._start_of(ev), ev.end_ms)):
            self.early_reads += 1
            self._start_speculative(ev)

    def _start_speculative(self, ev: Any) -> None:
        self._drop_speculative()
        audio, start_ms = self._audio(ev)
        heard = Heard(start_ms, ev.end_ms, started_after_ms=self.endpointer.silence_ms)
        task = asyncio.ensure_future(self._read(heard, audio))
        self.spec = (heard, task)

    def _drop_speculative(self) -> None:
        if self.spec is not None:
            self.spec[1].cancel()
            self.spec = None

    async def _read(self, heard: Heard, audio: np.ndarray) -> None:
        s = self.s
        # shielded: dropping the reading (speech came back) does not stop the decode in its thread, and
        # `_asr_task` tells when this call's worker is free again
        self._asr_task = asyncio.ensure_future(s.deps.transcribe(self.asr_audio(audio), s.lang, s.asr_prompt))
        heard.transcript, heard.asr_compute = await asyncio.shield(self._asr_task)
        heard.asr_wall = time.monotonic()
        if not self.settings.complete_answers and not self.over_agent:
            return
        from speech.prosody import tail, voiced_ms

        text = heard.transcript.text.strip()
        if self.over_agent and self.s.speaker.held:
            voiced = heard.end_ms - self._onset_ms
            u = await s.deps.understand(text, s.lang, None, s.today) if text else None
            if is_backchannel_turn(text, s.lang, voiced, self.settings, u):
                heard.backchannel = True
                await self._take_now(heard, 0)
                return
            self.over_agent = False
            await s.speaker.confirm_interrupt()
            if not self.settings.complete_answers:
                return
        heard.tail = tail(audio[-REC_RATE:]) if self.settings.prosody else None
        expect = s._expect

        def understand(reading: str) -> Any:
            return s.deps.understand(reading, s.lang, expect, s.today)

        # the transcript, then Whisper's other beams of the same decode; the prompt read back is no reading
        heard.verdict, heard.understanding = await read_verdict(
            readings_of(heard.transcript), s.lang, expect, understand, s.asr_prompt, voiced_ms(audio),
            confidence_of(heard.transcript), self.settings)
        heard.nlu_wall = time.monotonic()
        wait, _ = wait_ms(heard.verdict, heard.tail, s.lang, self.waits, self.settings)
        await self._take_now(heard, wait)

    async def _take_now(self, heard: Heard, wait: int) -> None:
        """Set the endpointer's silence to `wait`; end the utterance now if that much has passed."""
        if self.spec is None or self.spec[0] is not heard or not self.endpointer.in_utterance:
            return
        self.endpointer.set_eos_silence_ms(max(wait, 20))
        if self.endpointer.silence_ms >= wait:
            ev = self.endpointer.end_now()
            if ev is not None:
                await self._ended(ev, time.monotonic())

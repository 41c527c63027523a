"""CallSession: one live call, from phone audio in to phone audio out.

Three kinds of asyncio work share one call:
- the inbound loop reads transport events, feeds the endpointer, detects barge-in and
  starts speculative ASR when the callee pauses;
- the brain handles one job at a time (an utterance, a DTMF digit, a silence) through
  NLU and the dialog policy, and hands the decision to the speaker;
- the speaker turns lines into audio (prompt cache or TTS, clause by clause), sends it
  with a mark after each chunk, and records only what the marks confirm was played.
Turns are written as they happen, in order, through the call's OrderedWrites.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from agent.call_store import CallStore, TurnRecord
from agent.id_masking import ID_EXPECT, holds_id, id_slots, mask_entities, mask_id_answer, mask_slots
from agent.pipeline import CallDeps
from agent.recording import RATE as REC_RATE
from agent.recording import StereoRecorder
from agent.voicemail import voicemail_script, wait_for_beep
from agent.write_queue import OrderedWrites
from dialogs.types import Account, Decision, Dtmf, Heard, Line, Silence
from speech.tts.text import split_clauses
from telephony_adapter.base import AudioIn, DtmfIn, Hangup, MarkPlayed, ProtocolError, Start, Transport

log = logging.getLogger("dialwise.session")


@dataclass
class CallConfig:
    silence_reprompt_s: float = 6.0
    max_reprompts: int = 2
    max_call_s: float = 300.0
    eos_silence_ms: int = 400
    barge_in: bool = True
    amd: bool = True  # answering-machine detection in the first seconds of the call
    amd_window_s: float = 20.0
    voicemail_policy: str = "leave"  # leave | hangup
    network_timeout_s: float = 5.0  # no inbound audio this long: the line is dead


@dataclass
class CallResult:
    call_id: str
    outcome: str
    slots: dict[str, Any]
    end_reason: str
    turns: int
    latencies: list[dict[str, Any]] = field(default_factory=list)
    barge_ins: list[float] = field(default_factory=list)
    recording_path: str | None = None
    error: str | None = None


@dataclass
class _Utterance:
    audio: np.ndarray
    start_ms: int
    end_ms: int
    end_wall: float  # monotonic time the last voiced frame arrived
    hangup: bool = False


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class CallSession:
    def __init__(
        self,
        transport: Transport,
        *,
        call_id: str,
        account: Account,
        script_id: str,
        deps: CallDeps,
        store: CallStore | None = None,
        config: CallConfig | None = None,
        today: date | None = None,
        recording_path: Path | None = None,
    ) -> None:
        from dialogs.library import load_script
        from dialogs.policy import Policy
        from speech.audio import StreamResampler
        from speech.endpoint import Endpointer
        from speech.vad import create_vad

        self.transport = transport
        self.call_id = call_id
        self.account = account
        self.lang = account.language
        self.deps = deps
        self.store = store
        self.config = config or CallConfig()
        self.today = today or date.today()
        self.recording_path = recording_path
        self.script = load_script(script_id)
        self.policy = Policy(self.script, account, self.today)
        # a domain prompt naming the lender and the callee, so those words come out right
        from speech.asr.prompts import domain_prompt

        self.asr_prompt: str | None = domain_prompt(self.lang, lender=account.lender, names=[account.name])

        self.endpointer = Endpointer(create_vad(), eos_silence_ms=self.config.eos_silence_ms)
        self._resampler: Any = None
        self._resampler_cls = StreamResampler
        self.recorder = StereoRecorder()

        self._jobs: asyncio.Queue[Any] = asyncio.Queue()
        self._writes = OrderedWrites(call_id)
        self._speaker: asyncio.Task[None] | None = None
        self._marks: dict[str, str] = {}  # mark name -> clause text
        self._played: list[str] = []
        self._agent_turn: asyncio.Future[int] | None = None
        self._all_played = asyncio.Event()
        self._all_played.set()
        self._mark_seq = 0
        self._frames: deque[tuple[int, float]] = deque(maxlen=4000)  # (stream ms, monotonic)
        self._speculative: tuple[int, int, asyncio.Task[Any]] | None = None
        self._in_speech = False
        self._speech_start_ms = 0
        self._onset_wall: float | None = None
        self._last_activity = time.monotonic()
        self._silences = 0
        self._ended = asyncio.Event()
        self._end_reason = "completed"
        self._error: str | None = None
        self._expect: str | None = None
        self._dtmf_buf = ""
        self._callee_spoke = False
        self._dtmf_timer: asyncio.TimerHandle | None = None
        self._pending_latency: dict[str, Any] | None = None
        self._pending_turn: asyncio.Future[int] | None = None
        self._first_audio_wall: float | None = None
        self.result = CallResult(call_id, "hung_up", {}, "completed", 0)
        self.amd: Any = None
        if self.config.amd and getattr(self.script, "kind", "conversation") == "conversation":
            from speech.amd import AnsweringMachineDetector

            self.amd = AnsweringMachineDetector()
        self._machine = False
        self._outcome_override: str | None = None
        self._started_wall = time.monotonic()
        self._last_frame_wall = self._started_wall

    # ------------------------------------------------------------------ public
    async def run(self) -> CallResult:
        self._writes.start()
        await self._write(lambda: self.store.mark_live())
        tasks = [
            asyncio.create_task(self._inbound(), name="inbound"),
            asyncio.create_task(self._brain(), name="brain"),
            asyncio.create_task(self._clock(), name="clock"),
        ]
        try:
            self._deliver(self.policy.start())
            await self._ended.wait()
        finally:
            for task in tasks:
                task.cancel()
            if self._speaker:
                self._speaker.cancel()
            await asyncio.gather(*tasks, *( [self._speaker] if self._speaker else []), return_exceptions=True)
            await self._finish()
            await self._writes.close()
        return self.result

    # ------------------------------------------------------------------ inbound
    async def _inbound(self) -> None:
        try:
            while not self._ended.is_set():
                try:
                    event = await self.transport.receive()
                except ProtocolError as exc:
                    log.warning("call %s: malformed audio from the network: %s", self.call_id, exc)
                    self._error = f"protocol error: {exc}"
                    self._end("protocol_error")
                    return
                if isinstance(event, AudioIn):
                    await self._on_audio(event)
                elif isinstance(event, MarkPlayed):
                    self._on_mark(event.name)
                elif isinstance(event, DtmfIn):
                    self._last_activity = time.monotonic()
                    await self._on_dtmf(event.digit)
                elif isinstance(event, Hangup):
                    await self._on_hangup(event)
                    return
                elif isinstance(event, Start):
                    continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never let one call's failure escape
            self._fail("inbound loop", exc)

    async def _on_audio(self, event: AudioIn) -> None:
        from speech.audio import to_float32

        now = time.monotonic()
        self._last_frame_wall = now
        pcm = event.pcm
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ProtocolError(f"audio frame must be mono int16, got {pcm.dtype} {pcm.shape}")
        if self._amd_listening(now):
            self.amd.feed(pcm, event.sample_rate)
            if self.amd.verdict == "machine" and not self._machine:
                await self._on_machine()
        if event.sample_rate != REC_RATE:
            if self._resampler is None:
                self._resampler = self._resampler_cls(event.sample_rate, REC_RATE)
            pcm = self._resampler.process(pcm)
        self.recorder.add_callee(pcm)
        self._frames.append((self.recorder.now_ms, now))
        for ev in self.endpointer.feed(to_float32(pcm)):
            await self._on_endpoint(type(ev).__name__, ev, now)

    async def _on_endpoint(self, kind: str, ev: Any, now: float) -> None:
        if kind == "SpeechStarted":
            self._in_speech = True
            self._speech_start_ms = max(0, getattr(ev, "at_ms", self.recorder.now_ms) - 200)
            self._last_activity = now
            self._onset_wall = self._wall_at(getattr(ev, "at_ms", self.recorder.now_ms))
            # the closing line of an ended conversation plays out; anything else yields to the callee
            if self.config.barge_in and not self._all_played.is_set() and not self.policy.ended:
                await self._barge_in(now)
        elif kind == "SpeechPaused":
            self._start_speculative(ev)
        elif kind == "SpeechResumed":
            self._drop_speculative()
        elif kind == "SpeechEnded":
            self._in_speech = False
            self._last_activity = now
            await self._jobs.put(_Utterance(ev.audio, ev.start_ms, ev.end_ms, self._wall_at(ev.end_ms)))

    # ------------------------------------------------------------------ answering machines
    def _amd_listening(self, now: float) -> bool:
        return self.amd is not None and not self._machine and now - self._started_wall < self.config.amd_window_s

    async def _on_machine(self) -> None:
        """A machine answered: stop talking, wait for the beep (or the end of the greeting), then
        leave the limited-content voicemail message, or hang up, as the campaign says."""
        self._machine = True
        log.info("call %s: answering machine (%s)", self.call_id, self.amd.reason)
        if not self._all_played.is_set():
            await self._barge_in(time.monotonic())
        if self._speaker and not self._speaker.done():
            self._speaker.cancel()
        self._speaker = asyncio.create_task(self._leave_voicemail(), name="voicemail")

    async def _leave_voicemail(self) -> None:
        try:
            await wait_for_beep(self.amd, lambda: self._in_speech)
            self._outcome_override = "voicemail"
            script = voicemail_script(self.script, self.lang) if self.config.voicemail_policy == "leave" else None
            if script is not None:
                from dialogs.policy import Policy

                decision = Policy(script, self.account, self.today).start()
                await self._play_lines(decision.node, decision.lines)
                await self._all_played.wait()
            self._end("voicemail")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never let one call's failure escape
            self._fail("voicemail", exc)

    def _wall_at(self, stream_ms: int) -> float:
        """Monotonic time at which the frame covering `stream_ms` arrived."""
        for ms, wall in reversed(self._frames):
            if ms <= stream_ms + 20:
                return wall
        return time.monotonic()

    def _start_speculative(self, ev: Any) -> None:
        self._drop_speculative()
        task = asyncio.ensure_future(self.deps.transcribe(ev.audio, self.lang, self.asr_prompt))
        self._speculative = (ev.start_ms, ev.end_ms, task)

    def _drop_speculative(self) -> None:
        if self._speculative is not None:
            self._speculative[2].cancel()
            self._speculative = None

    async def _on_hangup(self, event: Hangup) -> None:
        if event.error:
            self._error = event.error
        if self._in_speech:  # the callee hung up mid-sentence: keep what they said
            from speech.audio import to_float32

            end_ms = self.recorder.now_ms
            audio = self.recorder.callee_audio(self._speech_start_ms, end_ms)
            if len(audio):
                await self._jobs.put(_Utterance(to_float32(audio), self._speech_start_ms, end_ms,
                                                time.monotonic(), hangup=True))
        await self._jobs.put(event)

    # ------------------------------------------------------------------ keypad
    async def _on_dtmf(self, digit: str) -> None:
        """Single keys go to the policy at once; at an ID question, keys are collected into one entry
        (4 digits, or '#', or 3 s after the last key)."""
        if self._expect != "id_last4" and not self._dtmf_buf:
            await self._jobs.put(Dtmf(digit))
            return
        if self._dtmf_timer:
            self._dtmf_timer.cancel()
        if digit != "#":
            self._dtmf_buf += digit
        if digit == "#" or len(self._dtmf_buf) >= 4:
            await self._flush_dtmf()
        else:
            self._dtmf_timer = asyncio.get_running_loop().call_later(
                3.0, lambda: asyncio.ensure_future(self._flush_dtmf()))

    async def _flush_dtmf(self) -> None:
        digits, self._dtmf_buf = self._dtmf_buf, ""
        if digits:
            await self._jobs.put(Dtmf(digits))

    # ------------------------------------------------------------------ barge-in and marks
    async def _barge_in(self, now: float) -> None:
        await self.transport.clear()
        if self._speaker:
            self._speaker.cancel()
        self.recorder.cut_agent()
        self._marks.clear()
        self._all_played.set()
        onset = self._onset_wall or now
        self.result.barge_ins.append(round((time.monotonic() - onset) * 1000, 1))
        if self._agent_turn is not None:
            turn = self._agent_turn
            text = " ".join(self._played)
            end_ms = self.recorder.now_ms
            await self._write(lambda: self.store.update_turn(turn.result(), text=text, interrupted=True, end_ms=end_ms))
        self._agent_turn = None

    def _on_mark(self, name: str) -> None:
        text = self._marks.pop(name, None)
        if text is None:
            return
        self._played.append(text)
        self._last_activity = time.monotonic()
        if self._agent_turn is not None:
            turn, played, end_ms = self._agent_turn, " ".join(self._played), self.recorder.now_ms
            self._write(lambda: self.store.update_turn(turn.result(), text=played, end_ms=end_ms))
        if not self._marks:
            self._all_played.set()

    # ------------------------------------------------------------------ brain
    async def _brain(self) -> None:
        try:
            while not self._ended.is_set():
                job = await self._jobs.get()
                if isinstance(job, Hangup):
                    self._end("hangup" if job.reason == "hangup" else job.reason)
                    return
                if isinstance(job, _Utterance):
                    await self._on_utterance(job)
                elif isinstance(job, Dtmf):
                    self._callee_spoke = True
                    single = len(job.digits) == 1 and self._expect != ID_EXPECT  # a menu key, not the ID
                    shown = job.digits if single else f"{len(job.digits)} digits"  # no ID in storage or logs
                    self._write_callee(f"[keypad {shown}]", None, None, {}, self.recorder.now_ms,
                                       self.recorder.now_ms, {}, masked=True)
                    self._deliver(self.policy.step(job))
                elif isinstance(job, Silence):
                    self._deliver(self.policy.step(job))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never let one call's failure escape
            self._fail("dialog", exc)

    async def _on_utterance(self, utt: _Utterance) -> None:
        t0 = time.monotonic()
        spec = self._speculative
        speculative = (spec is not None and spec[0] == utt.start_ms and spec[1] == utt.end_ms
                       and not spec[2].cancelled())
        if speculative:  # started at the pause, usually done by now
            transcript, asr_compute = await spec[2]
        else:
            transcript, asr_compute = await self.deps.transcribe(utt.audio, self.lang, self.asr_prompt)
        self._speculative = None
        t_asr = time.monotonic()
        text = transcript.text.strip()
        if not text:
            return  # noise or a cough: no turn, no reply
        self._silences = 0
        self._callee_spoke = True
        if self._machine:
            self._write_callee(f"[answering machine] {text}", None, None, {}, utt.start_ms, utt.end_ms, {})
            return
        if self._amd_listening(time.monotonic()) and self.amd.feed_text(text) == "machine":
            self._write_callee(f"[answering machine] {text}", None, None, {}, utt.start_ms, utt.end_ms, {})
            await self._on_machine()
            return
        u = await self.deps.understand(text, self.lang, self._expect, self.today)
        t_nlu = time.monotonic()
        if utt.hangup or self.policy.ended:  # kept in the transcript; nobody is left to answer
            self._write_callee(text, u.intent, u.confidence, u.entities, utt.start_ms, utt.end_ms, {})
            if not self.policy.ended:
                self.policy.step(Heard(u))
            return
        decision = self.policy.step(Heard(u))
        t_pol = time.monotonic()
        self._pending_latency = {
            # end of voiced audio -> endpoint decided (the end-of-speech silence, plus frame arrival)
            "endpoint_ms": round((t0 - utt.end_wall) * 1000, 1),
            # endpoint -> transcript in hand (0 when the speculative transcription finished first)
            "asr_ms": round((t_asr - max(t0, utt.end_wall)) * 1000, 1),
            "asr_compute_ms": round(asr_compute, 1),  # the engine's own time, wherever it fell
            "asr_speculative": speculative,
            "nlu_ms": round((t_nlu - t_asr) * 1000, 1),
            "policy_ms": round((t_pol - t_nlu) * 1000, 1),
            "_end_wall": utt.end_wall,
            "_policy_wall": t_pol,
        }
        self._pending_turn = self._write_callee(text, u.intent, u.confidence, u.entities,
                                                utt.start_ms, utt.end_ms, None)
        self._deliver(decision)

    def _write_callee(self, text, intent, confidence, entities, start_ms, end_ms, latency,
                      masked: bool = False) -> asyncio.Future[Any]:
        if not masked and (self._expect == ID_EXPECT or holds_id(entities)):  # an answer to the ID check
            text, entities = mask_id_answer(text), mask_entities(entities)
        rec = TurnRecord("callee", text, start_ms, end_ms, node=self.policy.node, intent=intent,
                         confidence=confidence, entities=_jsonable(entities or {}), latency=latency)
        self.result.turns += 1
        return self._write(lambda: self.store.add_turn(rec))

    # ------------------------------------------------------------------ speaking
    def _deliver(self, decision: Decision) -> None:
        self._expect = decision.expect
        if decision.eos_silence_ms:
            self.endpointer.set_eos_silence_ms(decision.eos_silence_ms)
        else:
            self.endpointer.set_eos_silence_ms(self.config.eos_silence_ms)
        if self._speaker and not self._speaker.done():
            self._speaker.cancel()
        self._speaker = asyncio.create_task(self._speak(decision), name="speaker")

    async def _speak(self, decision: Decision) -> None:
        try:
            if not self._all_played.is_set():  # a new decision while audio is still queued
                await self.transport.clear()
                self.recorder.cut_agent()
                self._marks.clear()
                self._all_played.set()
            if decision.lines:
                await self._play_lines(decision.node, decision.lines)
                await self._all_played.wait()
            self._last_activity = time.monotonic()
            if decision.end or self.policy.ended:
                if any(a.kind == "transfer" for a in decision.actions):
                    target = next(a.params.get("target") for a in decision.actions if a.kind == "transfer")
                    await self.transport.transfer(target)
                    self._end("transferred")
                else:
                    self._end("completed")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never let one call's failure escape
            self._fail("speaking", exc)

    async def _play_lines(self, node: str, lines: list[Line]) -> None:
        from speech.audio import resample

        self._played = []
        self._agent_turn = None
        self._all_played.clear()
        chunks: list[tuple[str, str | None]] = []
        for line in lines:
            if line.line_id is not None:
                chunks.append((line.text, line.line_id))  # cached as a whole line
            else:
                chunks.extend((clause, None) for clause in split_clauses(line.text) or [line.text])
        # synthesise ahead: chunk i+1 is prepared while chunk i is being sent
        pending = [asyncio.ensure_future(self.deps.synthesize(t, self.lang, lid)) for t, lid in chunks[:2]]
        for i, (text, _lid) in enumerate(chunks):
            speech = await pending[i]
            if i + 2 < len(chunks):
                t, lid = chunks[i + 2]
                pending.append(asyncio.ensure_future(self.deps.synthesize(t, self.lang, lid)))
            await self.transport.send_audio(speech.pcm, speech.sample_rate)
            start_ms = self.recorder.add_agent(resample(speech.pcm, speech.sample_rate, REC_RATE))
            if i == 0:
                self._on_first_audio(node, start_ms)
            self._mark_seq += 1
            name = f"m{self._mark_seq}"
            self._marks[name] = text
            await self.transport.mark(name)

    def _on_first_audio(self, node: str, start_ms: int) -> None:
        now = time.monotonic()
        lat = self._pending_latency
        if lat is not None and self._pending_turn is not None:
            lat["tts_first_ms"] = round((now - lat.pop("_policy_wall")) * 1000, 1)
            lat["voice_to_voice_ms"] = round((now - lat.pop("_end_wall")) * 1000, 1)
            lat = {k: v for k, v in lat.items() if v is not None}
            self.result.latencies.append(lat)
            turn = self._pending_turn
            self._write(lambda: self.store.update_turn(turn.result(), latency=lat))
        self._pending_latency = None
        self._pending_turn = None
        rec = TurnRecord("agent", "", start_ms, start_ms, node=node)
        self.result.turns += 1
        self._agent_turn = self._write(lambda: self.store.add_turn(rec))

    # ------------------------------------------------------------------ clock: silence and duration
    async def _clock(self) -> None:
        while not self._ended.is_set():
            await asyncio.sleep(0.1)
            now = time.monotonic()
            if now - self._started_wall > self.config.max_call_s:
                self._end("max_duration")
                return
            if now - self._last_frame_wall > self.config.network_timeout_s:
                # phone networks send audio continuously, silence included: the line is dead
                self._error = f"no audio from the network for {self.config.network_timeout_s:.0f} s"
                self._end("network_timeout")
                return
            idle = (not self._machine and self._all_played.is_set() and not self._in_speech and self._jobs.empty()
                    and (self._speaker is None or self._speaker.done()))
            if idle and now - self._last_activity >= self.config.silence_reprompt_s:
                self._last_activity = now
                self._silences += 1
                if self._silences > self.config.max_reprompts + 1:  # the policy should have ended it
                    self._end("silence")
                    return
                await self._jobs.put(Silence())

    # ------------------------------------------------------------------ ending
    def _fail(self, what: str, exc: Exception) -> None:
        log.exception("call %s: %s failed", self.call_id, what)
        self._error = f"{type(exc).__name__}: {exc}"
        self._end("error")

    def _end(self, reason: str) -> None:
        if not self._ended.is_set():
            self._end_reason = reason
            self._ended.set()

    async def _finish(self) -> None:
        if not self.policy.ended and self._end_reason in ("hangup", "protocol_error", "error", "max_duration",
                                                          "voicemail", "network_timeout"):
            self.policy.hangup()
        outcome = self.policy.outcome
        if outcome is None:
            outcome = "no_answer" if self._end_reason == "silence" and self.result.turns <= 1 else "hung_up"
        if self._end_reason == "transferred":
            outcome = "transferred"
        if self._outcome_override:
            outcome = self._outcome_override
        elif not self._callee_spoke and self._end_reason in ("completed", "silence") \
                and outcome in ("callback", "hung_up"):
            outcome = "no_answer"  # the line was open but nobody ever spoke
        if self._end_reason != "hangup":  # the callee is still on the line: hang up cleanly
            try:
                await self.transport.hangup(self._end_reason)
            except Exception:  # the line may already be gone
                pass
        slots = _jsonable(dict(self.policy.slots))
        path = None
        if self.recording_path is not None:
            path = str(await asyncio.to_thread(self.recorder.save, self.recording_path))
        self.result.outcome, self.result.slots = outcome, slots
        self.result.end_reason, self.result.recording_path, self.result.error = self._end_reason, path, self._error
        stored = mask_slots(slots, id_slots(self.script))
        await self._write(lambda: self.store.finish(outcome, stored, self._end_reason, path, self._error))

    # ------------------------------------------------------------------ ordered writer
    def _write(self, fn) -> asyncio.Future[Any]:
        """Queue a store write behind the earlier ones; the future resolves to None at once without a store."""
        if self.store is None:
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            fut.set_result(None)
            return fut
        return self._writes.submit(fn)

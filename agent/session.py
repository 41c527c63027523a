"""CallSession: one live call, from phone audio in to phone audio out.

Three kinds of asyncio work share one call, and the session owns three parts:
- the inbound loop reads transport events and hands audio to the Listener (agent/call_listener.py:
  endpointing, the complete-answer turn-taker, barge-in, backchannels, cut-ins);
- the brain handles one job at a time (an utterance, a DTMF digit, a silence) through
  NLU and the dialog policy, and hands the decision to the Speaker (agent/call_speaker.py: lines to
  audio, a mark after each chunk, only what the marks confirm recorded as played);
- the TurnBook (agent/call_turns.py) writes turns and their latency as they happen, in order, through
  the call's OrderedWrites.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from agent.call_listener import Listener, Utterance
from agent.call_speaker import Speaker
from agent.call_store import CallStore
from agent.call_turns import TurnBook, jsonable
from agent.id_masking import ID_EXPECT, id_slots, mask_slots
from agent.pipeline import CallDeps
from agent.recording import StereoRecorder
from agent.turn_taking import TurnSettings
from agent.voicemail import voicemail_script, wait_for_beep
from agent.write_queue import OrderedWrites
from dialogs.types import Account, Decision, Dtmf, Heard, Silence
from speech.tts.text import split_clauses
from telephony_adapter.base import (
    AudioIn,
    DtmfIn,
    Hangup,
    MarkPlayed,
    ProtocolError,
    Start,
    Transport,
)

log = logging.getLogger("dialwise.session")
STALL_FORGIVEN_S = 0.25  # a clock tick this much late: the event loop stood still, not the line


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
    turns: TurnSettings = field(default_factory=TurnSettings)  # the complete-answer endpointer


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
    cut_ins: int = 0  # early answers the callee went on speaking after
    backchannels: int = 0  # speech over the agent that was only an acknowledgement (the agent went on)




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

        self._domain_prompt: str | None = domain_prompt(self.lang, lender=account.lender, names=[account.name])
        self.recorder = StereoRecorder()
        self.listener = Listener(self, self.config.turns, self.config.eos_silence_ms)
        self.speaker = Speaker(self, split_clauses)
        self.book = TurnBook(self)

        self._jobs: asyncio.Queue[Any] = asyncio.Queue()
        self._writes = OrderedWrites(call_id)
        self._last_activity = time.monotonic()
        self._silences = 0
        self._ended = asyncio.Event()
        self._end_reason = "completed"
        self._error: str | None = None
        self._expect: str | None = None
        self._decision: Decision | None = None  # the last one delivered
        self._stepped: tuple[Utterance, dict[str, Any], Decision | None] | None = None  # for a cut-in
        self._dtmf_buf = ""
        self._callee_spoke = False
        self._dtmf_timer: asyncio.TimerHandle | None = None
        self.result = CallResult(call_id, "hung_up", {}, "completed", 0)
        self.amd: Any = None
        if self.config.amd and getattr(self.script, "kind", "conversation") == "conversation":
            from speech.amd import AnsweringMachineDetector

            self.amd = AnsweringMachineDetector()
        self._machine = False
        self._outcome_override: str | None = None
        self._started_wall = time.monotonic()
        self._last_frame_wall = self._started_wall

    @property
    def endpointer(self):
        return self.listener.endpointer

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
            self.speaker.cancel()
            spoken = [self.speaker.task] if self.speaker.task else []
            await asyncio.gather(*tasks, *spoken, return_exceptions=True)
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
                    self.speaker.on_mark(event.name)
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
        now = time.monotonic()
        self._last_frame_wall = now
        pcm = event.pcm
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ProtocolError(f"audio frame must be mono int16, got {pcm.dtype} {pcm.shape}")
        if self._amd_listening(now):
            self.amd.feed(pcm, event.sample_rate)
            if self.amd.verdict == "machine" and not self._machine:
                await self._on_machine()
        await self.listener.on_audio(pcm, event.sample_rate, now)

    @property
    def asr_prompt(self) -> str | None:
        """The prompt for the callee's next answer: the node's expectation picks it (the digits prompt after
        the ID question, agent/speech_options.py), else the call's domain prompt."""
        from agent.speech_options import asr_prompt_for

        return asr_prompt_for(self.lang, self._expect, self._domain_prompt)

    def cut_in(self, utt: Utterance, gap_ms: float) -> None:
        """The callee went on right after an early answer: stop, forget the answer, listen to the rest."""
        from dialogs.policy import Policy

        log.info("call %s: cut-in %.0f ms after an early answer", self.call_id, gap_ms)
        utt.cut = True
        self.book.cut_in(gap_ms)
        if self._stepped is not None and self._stepped[0] is utt:  # already answered: take the answer back
            _, state, before = self._stepped
            self.policy = Policy.from_state(self.script, self.account, self.today, state)
            if before is not None:
                self._expect, self._decision = before.expect, before
                self.listener.expect(before)
            asyncio.ensure_future(self.speaker.interrupt(time.monotonic(), hold=False))
        self._stepped = None

    # ------------------------------------------------------------------ answering machines
    def _amd_listening(self, now: float) -> bool:
        return self.amd is not None and not self._machine and now - self._started_wall < self.config.amd_window_s

    async def _on_machine(self) -> None:
        """A machine answered: stop talking, wait for the beep (or the end of the greeting), then
        leave the limited-content voicemail message, or hang up, as the campaign says."""
        self._machine = True
        log.info("call %s: answering machine (%s)", self.call_id, self.amd.reason)
        if self.speaker.speaking:
            await self.speaker.interrupt(time.monotonic(), hold=False)
        self.speaker.start(self._leave_voicemail())

    async def _leave_voicemail(self) -> None:
        try:
            await wait_for_beep(self.amd, lambda: self.listener.in_speech)
            self._outcome_override = "voicemail"
            script = voicemail_script(self.script, self.lang) if self.config.voicemail_policy == "leave" else None
            if script is not None:
                from dialogs.policy import Policy

                decision = Policy(script, self.account, self.today).start()
                await self.speaker.play(decision.node, decision.lines)
                await self.speaker.all_played.wait()
            self._end("voicemail")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never let one call's failure escape
            self._fail("voicemail", exc)

    async def _on_hangup(self, event: Hangup) -> None:
        if event.error:
            self._error = event.error
        if self.listener.in_speech:  # the callee hung up mid-sentence: keep what they said
            from speech.audio import to_float32

            start_ms, end_ms = self.listener.speech_start_ms, self.recorder.now_ms
            audio = self.recorder.callee_audio(start_ms, end_ms)
            if len(audio):
                await self._jobs.put(Utterance(to_float32(audio), start_ms, end_ms, time.monotonic(), hangup=True))
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

    # ------------------------------------------------------------------ brain
    async def _brain(self) -> None:
        try:
            while not self._ended.is_set():
                job = await self._jobs.get()
                if isinstance(job, Hangup):
                    self._end("hangup" if job.reason == "hangup" else job.reason)
                    return
                if isinstance(job, Utterance):
                    await self._on_utterance(job)
                elif isinstance(job, Dtmf):
                    self._callee_spoke = True
                    single = len(job.digits) == 1 and self._expect != ID_EXPECT  # a menu key, not the ID
                    shown = job.digits if single else f"{len(job.digits)} digits"  # no ID in storage or logs
                    self.book.callee(f"[keypad {shown}]", None, None, {}, self.recorder.now_ms,
                                     self.recorder.now_ms, {}, masked=True)
                    self._deliver(self.policy.step(job))
                elif isinstance(job, Silence):
                    self._deliver(self.policy.step(job))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never let one call's failure escape
            self._fail("dialog", exc)

    async def _on_utterance(self, utt: Utterance) -> None:
        from agent.turn_taking import is_backchannel_turn

        t0 = time.monotonic()
        heard = utt.heard
        speculative = heard is not None and heard.transcript is not None
        if heard is not None and not speculative:  # started at the pause, usually done by now
            spec = self.listener.spec
            if spec is not None and spec[0] is heard:
                try:
                    await spec[1]
                except asyncio.CancelledError:
                    pass
            speculative = heard.transcript is not None
        if speculative:
            transcript, asr_compute = heard.transcript, heard.asr_compute
        else:
            transcript, asr_compute = await self.deps.transcribe(self.listener.asr_audio(utt.audio), self.lang,
                                                                 self.asr_prompt)
        t_asr = time.monotonic()
        text = transcript.text.strip()
        if utt.over_agent and self.speaker.held:  # speech over the agent: only a backchannel?
            if heard is not None and heard.backchannel:
                self.speaker.resume()
                return
            u0 = await self.deps.understand(text, self.lang, None, self.today) if text else None
            if is_backchannel_turn(text, self.lang, utt.end_ms - utt.start_ms - 200, self.config.turns, u0):
                self.speaker.resume()
                return
            await self.speaker.confirm_interrupt()
        if not text or utt.cut:
            return  # noise or a cough (no turn, no reply); or heard again with what followed it
        self._silences = 0
        self._callee_spoke = True
        if self._machine:
            self.book.callee(f"[answering machine] {text}", None, None, {}, utt.start_ms, utt.end_ms, {})
            return
        if self._amd_listening(time.monotonic()) and self.amd.feed_text(text) == "machine":
            self.book.callee(f"[answering machine] {text}", None, None, {}, utt.start_ms, utt.end_ms, {})
            await self._on_machine()
            return
        if speculative and heard.understanding is not None and heard.understanding.text == text:
            u = heard.understanding  # read at the pause, with this node's expectation
        else:
            u = await self.deps.understand(text, self.lang, self._expect, self.today)
        t_nlu = time.monotonic()
        if utt.hangup or self.policy.ended:  # kept in the transcript; nobody is left to answer
            self.book.callee(text, u.intent, u.confidence, u.entities, utt.start_ms, utt.end_ms, {})
            if not self.policy.ended:
                self.policy.step(Heard(u))
            return
        if utt.cut:
            return
        self._stepped = (utt, self.policy.state(), self._decision) if utt.early else None
        decision = self.policy.step(Heard(u))
        t_pol = time.monotonic()
        latency = {
            # end of voiced audio -> turn taken (the silence the turn-taker waited, plus frame arrival)
            "endpoint_ms": round((t0 - utt.end_wall) * 1000, 1),
            # turn taken -> transcript in hand (0 when the speculative transcription finished first)
            "asr_ms": round(max(0.0, t_asr - max(t0, utt.end_wall)) * 1000, 1),
            "asr_compute_ms": round(asr_compute, 1),  # the engine's own time, wherever it fell
            "asr_speculative": speculative,
            # silence after the end of voice when that speculative reading started (early_asr_ms or pause_ms)
            "asr_started_after_ms": heard.started_after_ms if speculative and heard is not None else None,
            "nlu_ms": round((t_nlu - t_asr) * 1000, 1),
            "policy_ms": round((t_pol - t_nlu) * 1000, 1),
            "endpoint_reason": utt.reason,
            "taken_after_ms": utt.taken_after_ms,  # silence after the end of voice (stream time)
            "early": utt.early,
            "voice_end_mono_s": round(utt.end_wall, 4),  # time.monotonic(), to line up with the far end's clock
            "_end_wall": utt.end_wall,
            "_policy_wall": t_pol,
        }
        turn = self.book.callee(text, u.intent, u.confidence, u.entities, utt.start_ms, utt.end_ms, None)
        self.book.answered(latency, turn)
        self._deliver(decision)

    # ------------------------------------------------------------------ speaking
    def _deliver(self, decision: Decision) -> None:
        self._expect = decision.expect
        self._decision = decision
        self.listener.expect(decision)
        self.speaker.start(self._speak(decision))

    async def _speak(self, decision: Decision) -> None:
        try:
            if self.speaker.speaking:  # a new decision while audio is still queued
                await self.speaker.stop()
            if decision.lines:
                await self.speaker.play(decision.node, decision.lines)
                await self.speaker.all_played.wait()
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

    # ------------------------------------------------------------------ clock: silence and duration
    async def _clock(self) -> None:
        tick = 0.1
        while not self._ended.is_set():
            before = time.monotonic()
            await asyncio.sleep(tick)
            now = time.monotonic()
            stall = now - before - tick
            if stall > STALL_FORGIVEN_S:
                # this event loop stood still (CPU starved, a blocking call): the frames that arrived meanwhile
                # are still queued behind this tick, so the silence is the loop's, not the network's
                self._last_frame_wall += stall
            if now - self._started_wall > self.config.max_call_s:
                self._end("max_duration")
                return
            if now - self._last_frame_wall > self.config.network_timeout_s:
                # phone networks send audio continuously, silence included: the line is dead
                self._error = f"no audio from the network for {self.config.network_timeout_s:.0f} s"
                self._end("network_timeout")
                return
            idle = (not self._machine and not self.speaker.speaking and not self.listener.in_speech
                    and self._jobs.empty() and (self.speaker.task is None or self.speaker.task.done()))
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
        slots = jsonable(dict(self.policy.slots))
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

"""A loopback phone line: an agent end (a `Transport`) wired to a customer end.

The wire between them is what a real network carries: 8 kHz G.711 μ-law in 20 ms frames
(160 bytes), with keypresses, marks and clears out of band (`serializers/loopback.py`). The line's
clock task plays one frame per direction every 20 ms of wall clock, scheduled against absolute
deadlines so it never drifts and never runs ahead of real time. When a side has nothing queued the
line carries μ-law silence, as a real call does.

The agent end is a `PacedTransport` like every production transport: its audio is resampled,
framed, paced by the production `OutboundPacer` (at most `lead_s` ahead of real time) and written
through the serializer into the line's play-out buffer, which the line drains every 20 ms, as a
carrier's buffer does. Marks travel with the audio and come back when played (as on Twilio);
`clear` drops the pacer's queue and the line's buffer. Inbound frames go through the serializer
too: a malformed one ends the call with `Hangup("protocol_error")`.

    line = LoopbackLine(call_id="c1")
    await line.start()
    agent: Transport = line.agent         # give this to the CallSession
    customer = line.customer              # give this to a SimulatedCustomer (or drive it in a test)

The customer end keeps honest latency records: for each customer utterance, when its last
voiced frame went onto the wire (`speech_end_at`) and when the first agent frame queued after
that instant reached the customer (`agent_audio_at`). Both are `time.monotonic()` values.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from telephony_adapter.base import DEAD_LINE_REASONS, Hangup, Start
from telephony_adapter.serializers.loopback import (
    FRAME_BYTES,
    FRAME_MS,
    FRAME_SAMPLES,
    WIRE_RATE,
    Keypress,
    LineClear,
    LineMark,
    LoopbackSerializer,
    decode_wire,
    encode_wire,
)
from telephony_adapter.wire import PacedTransport

log = logging.getLogger("dialwise.loopback")
__all__ = ["FRAME_BYTES", "FRAME_SAMPLES", "WIRE_RATE", "AgentEnd", "AgentFrame", "AgentHangup", "CustomerEnd",
           "LatencySample", "LoopbackLine", "Transferred", "decode_wire", "encode_wire", "frame_rms"]

FRAME_S = FRAME_MS / 1000.0
ULAW_SILENCE = b"\xff" * FRAME_BYTES
DTMF_DIGITS = frozenset("0123456789*#ABCD")
# A frame is "voiced" (for the latency stamps) when its RMS is above this (int16 units, ~ -50 dBFS).
VOICED_RMS = 100.0
# If the event loop stalls longer than this, the pacer re-anchors instead of bursting frames.
MAX_LAG_S = 0.2
# The agent end's pacer lead: how far ahead of real time it fills the line's play-out buffer
# (the Twilio transport's value: the loopback is a μ-law network with remote marks and clear, like Twilio).
AGENT_LEAD_S = 0.2


def frame_rms(pcm: np.ndarray) -> float:
    if len(pcm) == 0:
        return 0.0
    x = pcm.astype(np.float32)
    return float(np.sqrt(np.mean(x * x)))


# --- items in the line's queues -----------------------------------------------------------
@dataclass
class _Frame:
    data: bytes
    queued_at: float  # monotonic time the audio was handed to the line
    voiced: bool = False
    utterance: int | None = None  # customer utterance id, for latency stamps
    last_voiced: bool = False  # the last voiced frame of that utterance


@dataclass
class _Mark:
    name: str


@dataclass
class _Dtmf:
    digit: str


# --- what the customer end receives ----------------------------------------------------
@dataclass
class AgentFrame:
    """20 ms of what the agent end put on the line (silence when it sent nothing)."""

    pcm: np.ndarray  # int16, 8 kHz, 160 samples
    at: float  # monotonic arrival time


@dataclass
class AgentHangup:
    """The call ended (`by` says which side ended it: agent | customer | line)."""

    reason: str = "completed"
    by: str = "agent"


@dataclass
class Transferred:
    target: str | None = None


CustomerEvent = AgentFrame | AgentHangup | Transferred


@dataclass
class LatencySample:
    """One customer utterance: end of its speech on the wire -> first agent audio queued after it."""

    utterance: int
    speech_end_at: float | None = None
    agent_audio_at: float | None = None
    label: str = ""

    @property
    def latency_ms(self) -> float | None:
        if self.speech_end_at is None or self.agent_audio_at is None:
            return None
        return (self.agent_audio_at - self.speech_end_at) * 1000.0


# --- the line -----------------------------------------------------------------------------
class LoopbackLine:
    """Two connected ends over a paced 8 kHz μ-law channel. Real time, always."""

    def __init__(self, call_id: str | None = None, params: dict[str, Any] | None = None, *,
                 agent_lead_s: float = AGENT_LEAD_S) -> None:
        self.call_id = call_id
        self.params = dict(params or {})
        self.playout: deque[_Frame | _Mark] = deque()  # agent audio written to the line, not yet played
        self.agent = AgentEnd(self, lead_s=agent_lead_s)
        self.customer = CustomerEnd(self)
        self.started_at: float | None = None
        self.ended: Hangup | None = None
        self.ended_by = ""
        self.frames_out = 0  # agent -> customer frames released (including silence)
        self.frames_in = 0  # customer -> agent frames released (including silence)
        self.max_lead_s = 0.0  # worst case: audio released minus wall clock elapsed
        self.reanchors = 0
        self._pacer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._pacer is not None:
            return
        self.started_at = time.monotonic()
        self.agent._emit(Start(self.call_id, dict(self.params)))
        self._pacer = asyncio.create_task(self._run_pacer(), name=f"loopback-pacer-{self.call_id}")

    async def close(self) -> None:
        """End the call if still live and stop the pacer."""
        if self.ended is None:
            self._end(Hangup("hangup"), by="line")
        await self._stop_pacer()
        await self.agent._pacer.close()

    async def __aenter__(self) -> LoopbackLine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # pacing ------------------------------------------------------------------------------
    async def _run_pacer(self) -> None:
        loop_clock = time.monotonic
        t0 = loop_clock()
        released = 0  # frames released since t0 (both directions tick together)
        try:
            while self.ended is None:
                now = loop_clock()
                deadline = t0 + released * FRAME_S
                if deadline > now:
                    await asyncio.sleep(deadline - now)
                    continue
                if now - deadline > MAX_LAG_S:  # the loop stalled: do not burst, re-anchor
                    self.reanchors += 1
                    t0, released = now, 0
                try:
                    self._tick(loop_clock())
                except Exception as exc:  # a broken line ends the call; it never goes silent forever
                    log.exception("loopback %s: the line failed", self.call_id)
                    self._end(Hangup("error", error=f"loopback line failed: {type(exc).__name__}: {exc}"),
                              by="line")
                    return
                released += 1
                lead = (released * FRAME_S) - (loop_clock() - t0)
                self.max_lead_s = max(self.max_lead_s, lead)
        except asyncio.CancelledError:
            pass

    def _tick(self, now: float) -> None:
        """Release one 20 ms frame in each direction."""
        self._tick_out(now)
        if self.ended is None:
            self._tick_in(now)

    def _tick_out(self, now: float) -> None:
        agent, buf = self.agent, self.playout
        while buf and isinstance(mark := buf[0], _Mark):
            buf.popleft()
            agent._take(LineMark(mark.name))  # everything before it has played
        item = buf.popleft() if buf else None
        data = item.data if isinstance(item, _Frame) else ULAW_SILENCE
        self.frames_out += 1
        self.customer._deliver(AgentFrame(decode_wire(data), now))
        if isinstance(item, _Frame):
            agent.frames_played += 1
            self.customer._on_agent_audio(item, now)
        # a mark right behind this frame comes back on the next tick, once the frame has played

    def _tick_in(self, now: float) -> None:
        cust = self.customer
        while cust._queue and isinstance(dtmf := cust._queue[0], _Dtmf):
            cust._queue.popleft()
            self.agent._take(Keypress(dtmf.digit))
        item = cust._queue.popleft() if cust._queue else None
        data = item.data if isinstance(item, _Frame) else ULAW_SILENCE
        self.frames_in += 1
        self.agent._take(data)
        if isinstance(item, _Frame):
            cust._on_frame_sent(item, now)

    @property
    def playing(self) -> bool:
        """The line's clock is running (not stopped, cancelled or dead)."""
        return self._pacer is not None and not self._pacer.done()

    async def _stop_pacer(self) -> None:
        task, self._pacer = self._pacer, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def _end(self, event: Hangup, by: str, transferred_to: str | None = None) -> None:
        """End the call once. `by` is "agent", "customer" or "line"."""
        if self.ended is not None:
            return
        self.ended = event
        self.ended_by = by
        self.playout.clear()
        self.customer._queue.clear()
        # audio already on the wire stays readable before the Hangup (last words are kept)
        self.agent._line_ended(event)
        if event.reason == "transferred":
            self.customer._deliver(Transferred(transferred_to))
        else:  # also when the customer hung up: wakes its own reader
            self.customer._deliver(AgentHangup(event.reason, by))
        self.customer._wake_all()
        if self._pacer is not None and self._pacer is not asyncio.current_task():
            self._pacer.cancel()


# --- the agent end: a Transport ----------------------------------------------------------
class AgentEnd(PacedTransport):
    """The `Transport` a CallSession drives: the production PacedTransport over the line's wire.
    Inbound audio is int16 at 8 kHz."""

    inbound_rate = WIRE_RATE
    wire_rate = WIRE_RATE
    local_marks = False  # the line echoes marks when played
    reset_clock_on_clear = True  # LineClear empties the line's buffer
    name = "loopback"

    def __init__(self, line: LoopbackLine, *, lead_s: float = AGENT_LEAD_S) -> None:
        super().__init__(lead_s=lead_s)
        self._line = line
        self.serializer: LoopbackSerializer = LoopbackSerializer()
        self._stamps: deque[float] = deque()  # queue time of each frame in the pacer, in order
        self.frames_played = 0
        self.frames_cleared = 0
        self.marks_cleared: list[str] = []
        self.transfer_supported = True

    @property
    def call_id(self) -> str | None:
        return self._line.call_id

    # --- the line's side ------------------------------------------------------------------
    def _line_ended(self, event: Hangup) -> None:
        super()._end(event.reason, event.error)
        self._pacer.stop()  # nothing more goes on this line; its task returns by itself

    def _end(self, reason: str, error: str | None = None) -> None:
        """Ended from this end's inbox (a protocol error): the line goes down with it."""
        self._line._end(Hangup(reason, error), by="line")

    # --- outbound ---------------------------------------------------------------------------
    async def send_audio(self, pcm: np.ndarray, sample_rate: int) -> None:
        pcm = np.asarray(pcm)
        if pcm.ndim != 1:
            raise ValueError("send_audio expects mono PCM (1-D int16)")
        if pcm.dtype != np.int16:
            raise TypeError(f"send_audio expects int16 PCM, got {pcm.dtype}")
        if len(pcm):
            await super().send_audio(pcm, sample_rate)

    def _queue_frames(self, frames: list[bytes]) -> None:
        self._stamps.extend([time.monotonic()] * len(frames))
        super()._queue_frames(frames)

    async def _send_wire(self, wire: bytes | LineMark | LineClear) -> None:
        line = self._line
        if isinstance(wire, LineClear):
            for item in line.playout:
                if isinstance(item, _Mark):
                    self.marks_cleared.append(item.name)
                else:
                    self.frames_cleared += 1
            line.playout.clear()
        elif isinstance(wire, LineMark):
            line.playout.append(_Mark(wire.name))
        elif line.ended is None:
            queued_at = self._stamps.popleft() if self._stamps else time.monotonic()
            line.playout.append(_Frame(wire, queued_at))

    async def clear(self) -> None:
        if self.ended:
            return
        self.frames_cleared += self._pacer.queued_frames + (1 if self._framer.pending else 0)
        self._stamps.clear()
        await super().clear()
        self.marks_cleared += self.marks_dropped
        self.marks_dropped = []

    @property
    def queued_ms(self) -> int:
        """Agent audio queued but not yet played (in the pacer, the framer and the line's buffer)."""
        on_line = sum(1 for i in self._line.playout if isinstance(i, _Frame))
        framed = (self._pacer.queued_frames + on_line) * FRAME_MS
        return framed + self._framer.pending // 2 * 1000 // WIRE_RATE

    async def hangup(self, reason: str = "completed") -> None:
        """As on every network: queued speech finishes (bounded), then the call ends."""
        if not self.ended and reason not in DEAD_LINE_REASONS:
            await self.drain(timeout=self._pacer.queued_s + 2.0)
            deadline = time.monotonic() + self._pacer.lead_s + 0.1
            while self._line.playout and self._line.playing and not self.ended and time.monotonic() < deadline:
                await asyncio.sleep(FRAME_S)  # what the pacer wrote ahead is still playing
        self._line._end(Hangup(reason), by="agent")
        await self.close(reason)

    async def _close_wire(self, reason: str) -> None:
        if self._line.ended is None:  # closed without a hang-up: the line goes down all the same
            self._line._end(Hangup(reason), by="agent")
        await self._line._stop_pacer()

    async def transfer(self, target: str | None = None) -> bool:
        if not self.transfer_supported or self._line.ended is not None:
            return False
        self._line._end(Hangup("transferred"), by="agent", transferred_to=target)
        await self.close("transferred")
        return True


# --- the customer end ----------------------------------------------------------------------
class CustomerEnd:
    """The far end of the line: hears the agent in paced 20 ms frames, talks back the same way."""

    def __init__(self, line: LoopbackLine) -> None:
        self._line = line
        self._events: asyncio.Queue[CustomerEvent] = asyncio.Queue()
        self._queue: deque[_Frame | _Dtmf] = deque()
        self._utt_ids = itertools.count(1)
        self._done: dict[int, asyncio.Event] = {}
        self._remaining: dict[int, int] = {}  # utterance id -> frames not yet sent
        self.latency: list[LatencySample] = []
        self._pending: LatencySample | None = None  # utterance awaiting the agent's reply

    @property
    def ended(self) -> bool:
        return self._line.ended is not None

    async def receive(self) -> CustomerEvent:
        """Next agent frame (or the end of the call). After the end: AgentHangup forever."""
        if self.ended and self._events.empty():
            ended = self._line.ended
            return AgentHangup(ended.reason if ended else "hangup", self._line.ended_by)
        return await self._events.get()

    def _deliver(self, event: CustomerEvent) -> None:
        self._events.put_nowait(event)

    async def say(
        self, pcm: np.ndarray, sample_rate: int, *, wait: bool = True, label: str = ""
    ) -> int:
        """Send an utterance as paced 20 ms frames. Returns its id; waits until played if `wait`."""
        if self.ended:
            return 0
        data = encode_wire(np.asarray(pcm, dtype=np.int16), sample_rate)
        if len(data) % FRAME_BYTES:
            data += b"\xff" * (FRAME_BYTES - len(data) % FRAME_BYTES)
        frames = [data[i : i + FRAME_BYTES] for i in range(0, len(data), FRAME_BYTES)]
        uid = next(self._utt_ids)
        now = time.monotonic()
        voiced = [frame_rms(decode_wire(f)) >= VOICED_RMS for f in frames]
        last = max((i for i, v in enumerate(voiced) if v), default=len(frames) - 1)
        for i, f in enumerate(frames):
            self._queue.append(_Frame(f, now, voiced[i], uid, last_voiced=(i == last)))
        done = asyncio.Event()
        self._done[uid] = done
        self._remaining[uid] = len(frames)
        self.latency.append(LatencySample(uid, label=label))
        if wait:
            await done.wait()
        return uid

    async def wait_played(self, utterance: int) -> None:
        ev = self._done.get(utterance)
        if ev is not None:
            await ev.wait()

    def stop_talking(self) -> int:
        """Drop the rest of what the customer queued (returns frames dropped)."""
        n = sum(1 for i in self._queue if isinstance(i, _Frame))
        self._queue = deque(i for i in self._queue if isinstance(i, _Dtmf))
        self._wake_all()
        return n

    @property
    def talking(self) -> bool:
        return any(isinstance(i, _Frame) for i in self._queue)

    async def send_dtmf(self, digit: str) -> None:
        if digit not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        if not self.ended:
            self._queue.append(_Dtmf(digit))

    def send_raw(self, data: Any) -> None:
        """Put raw bytes straight on the inbound wire, unpaced (tests of malformed input)."""
        if not self.ended:
            self._line.agent._take(data)

    async def hangup(self) -> None:
        """Hang up now, even mid-sentence: what is still queued is never sent."""
        self._line._end(Hangup("hangup"), by="customer")
        await self._line._stop_pacer()

    # called by the pacer -------------------------------------------------------------------
    def _on_frame_sent(self, frame: _Frame, now: float) -> None:
        if frame.last_voiced and frame.utterance is not None:
            sample = self._sample(frame.utterance)
            if sample is not None:
                sample.speech_end_at = now
                self._pending = sample
        if frame.utterance is not None:
            left = self._remaining.get(frame.utterance, 1) - 1
            self._remaining[frame.utterance] = left
            if left <= 0:
                self._remaining.pop(frame.utterance, None)
                ev = self._done.pop(frame.utterance, None)
                if ev is not None:
                    ev.set()

    def _on_agent_audio(self, frame: _Frame, now: float) -> None:
        p = self._pending
        if p is not None and p.speech_end_at is not None and frame.queued_at > p.speech_end_at:
            p.agent_audio_at = now
            self._pending = None

    def _sample(self, uid: int) -> LatencySample | None:
        for s in reversed(self.latency):
            if s.utterance == uid:
                return s
        return None

    def _wake_all(self) -> None:
        """Release everyone waiting on utterances that will never finish playing."""
        alive = {i.utterance for i in self._queue if isinstance(i, _Frame)}
        for uid in [u for u in self._done if u not in alive]:
            self._remaining.pop(uid, None)
            self._done.pop(uid).set()

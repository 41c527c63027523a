"""What every network transport shares: an event inbox that ends in Hangup, paced output, and
the hand-over to the network's serializer (telephony_adapter/serializers/).

A concrete transport (Twilio, AudioSocket, browser, SIP, loopback) brings its serializer and says
how a wire message is written (`_send_wire`) and how the wire is closed (`_close_wire`, and
`_abort_wire` after a fatal protocol error). Everything else lives here once: resampling, framing
at 20 ms of int16 PCM, real-time pacing, marks in order with the audio (local, or sent as `MarkOut`
when the network echoes them), clear, the terminal Hangup, and what happens to bad input — a
non-fatal `WireError` is dropped with a log line, a fatal one ends the call with
`Hangup("protocol_error")`.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np

from speech.audio import FRAME_MS, resample
from telephony_adapter.base import DEAD_LINE_REASONS, Hangup, MarkPlayed, TransportEvent
from telephony_adapter.pacing import FrameBuffer, OutboundPacer
from telephony_adapter.serializers.base import (
    AudioOut,
    ClearOut,
    ErrorOut,
    FrameSerializer,
    InboundEvent,
    MarkOut,
    OutboundEvent,
    WireError,
)

log = logging.getLogger(__name__)
LOGGED_WIRE_ERRORS = 3  # per call: the first few dropped messages are logged, then every 100th


class PacedTransport:
    """Base for every transport. Subclasses set wire_rate and local_marks and bring a serializer."""

    inbound_rate: int = 8000
    wire_rate: int = 8000
    local_marks: bool = True
    reset_clock_on_clear: bool = False
    serializer: FrameSerializer[Any]

    def __init__(self, *, lead_s: float = 0.12) -> None:
        self._events: asyncio.Queue[TransportEvent] = asyncio.Queue()
        self._ended: Hangup | None = None
        frame_bytes = self.wire_rate * FRAME_MS // 1000 * 2  # int16 PCM; the serializer applies the codec
        self._framer = FrameBuffer(frame_bytes)
        self._pacer = OutboundPacer(
            self._write_frame, self._mark_reached, local_marks=self.local_marks, lead_s=lead_s
        )
        self.transferred_to: str | None = None
        self.marks_dropped: list[str] = []
        self.wire_errors = 0  # bad messages dropped (non-fatal)
        self.last_wire_error: str | None = None
        self.protocol_error: str | None = None  # set when a fatal one ended the call

    # --- hooks for subclasses --------------------------------------------------------------
    async def _send_wire(self, wire: Any) -> None:  # pragma: no cover - abstract
        """Write one serialized message to the network."""
        raise NotImplementedError

    async def _close_wire(self, reason: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def _abort_wire(self, message: str) -> None:
        """After a fatal protocol error (and the serializer's ErrorOut, if any): close the wire."""
        await self._close_wire(message)

    async def _send(self, event: OutboundEvent) -> None:
        wire = self.serializer.serialize(event)
        if wire is not None:
            await self._send_wire(wire)

    async def _write_frame(self, frame: bytes) -> None:
        await self._send(AudioOut(frame))

    async def _send_mark(self, name: str) -> None:
        """Remote marks only: tell the far end to echo `name` when played."""
        await self._send(MarkOut(name))

    async def _send_clear(self) -> None:
        """Tell the far end to drop its play-out buffer (if the protocol can)."""
        await self._send(ClearOut())

    # --- inbound: wire -> serializer -> events ---------------------------------------------
    def _take(self, wire: Any) -> None:
        """Feed one wire message (or chunk) through the serializer. A fatal error ends the call;
        the reader then calls `_refuse` to tell the peer and close the wire."""
        try:
            events = self.serializer.deserialize(wire)
        except Exception as exc:  # a serializer bug ends this call cleanly, never its reader or the process
            log.exception("%s %s: the serializer failed", self.serializer.network, self._label)
            events = [WireError(f"could not read a message ({type(exc).__name__})", fatal=True)]
        for event in events:
            if self._ended is not None:
                return
            if isinstance(event, WireError):
                self._wire_error(event)
            else:
                self._on_event(event)

    def _on_event(self, event: InboundEvent) -> None:
        """What a deserialized event does; subclasses add their bookkeeping (marks, the first Start)."""
        if isinstance(event, Hangup):
            self._end(event.reason, event.error)
        elif not isinstance(event, WireError):
            self._emit(event)

    def _wire_error(self, err: WireError) -> None:
        if err.fatal:
            log.warning("%s %s: protocol error, ending the call: %s", self.serializer.network, self._label, err.message)
            self.protocol_error = err.message
            self._end("protocol_error", f"protocol error: {err.message}")
            return
        self.wire_errors += 1
        self.last_wire_error = err.message
        if self.wire_errors <= LOGGED_WIRE_ERRORS or self.wire_errors % 100 == 0:
            log.warning("%s %s: dropped a bad message (%d so far): %s", self.serializer.network, self._label,
                        self.wire_errors, err.message)

    async def _refuse(self) -> None:
        """After a fatal protocol error: stop sending, tell the peer why (if it can hear it), close."""
        message = self.protocol_error or "protocol error"
        await self._pacer.close()
        try:
            await self._send(ErrorOut(message))
        except Exception as exc:  # the socket may already be gone
            log.debug("telling the peer about the error: %s", exc)
        try:
            await self._abort_wire(message)
        except Exception as exc:
            log.debug("closing wire: %s", exc)

    @property
    def _label(self) -> str:
        return str(getattr(self, "call_id", None) or "")

    # --- inbox ------------------------------------------------------------------------------
    @property
    def ended(self) -> bool:
        return self._ended is not None

    def _emit(self, event: TransportEvent) -> None:
        if self._ended is None:
            self._events.put_nowait(event)

    def _end(self, reason: str, error: str | None = None) -> None:
        """The call is over (from either side). Idempotent; receive() then yields Hangup forever."""
        if self._ended is not None:
            return
        self._ended = Hangup(reason=reason, error=error)
        self._events.put_nowait(self._ended)
        self._pacer.clear(reset_clock=True)

    async def receive(self) -> TransportEvent:
        if self._ended is not None and self._events.empty():
            return self._ended
        return await self._events.get()

    # --- outbound ---------------------------------------------------------------------------
    def _queue_frames(self, frames: list[bytes]) -> None:
        self._pacer.push_frames(frames)

    async def _mark_reached(self, name: str) -> None:
        if self.local_marks:
            self._emit(MarkPlayed(name))
        else:
            await self._send_mark(name)

    async def send_audio(self, pcm: np.ndarray, sample_rate: int) -> None:
        if self._ended is not None:
            return
        pcm = np.asarray(pcm)
        if pcm.dtype != np.int16:
            from speech.audio import to_int16

            pcm = to_int16(pcm)
        if sample_rate != self.wire_rate:
            pcm = resample(pcm, sample_rate, self.wire_rate)
        self._pacer.start()
        self._queue_frames(self._framer.push(pcm.astype("<i2", copy=False).tobytes()))

    async def mark(self, name: str) -> None:
        if self._ended is not None:
            return
        self._pacer.start()
        self._queue_frames(self._framer.flush())
        self._pacer.push_mark(name)

    async def clear(self) -> None:
        if self._ended is not None:
            return
        self._framer.drop()
        self.marks_dropped += self._pacer.clear(reset_clock=self.reset_clock_on_clear)
        await self._send_clear()

    async def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every queued frame has been written."""
        self._queue_frames(self._framer.flush())
        return await self._pacer.drain(timeout)

    async def hangup(self, reason: str = "completed") -> None:
        """Let queued speech finish (bounded), then end the call and close the wire."""
        if self._ended is None and reason not in DEAD_LINE_REASONS:
            await self.drain(timeout=self._pacer.queued_s + 2.0)
        self._end(reason)
        await self.close(reason)

    async def close(self, reason: str = "closed") -> None:
        await self._pacer.close()
        try:
            await self._close_wire(reason)
        except Exception as exc:  # the socket may already be gone
            log.debug("closing wire: %s", exc)

    @property
    def pacing(self) -> dict[str, float]:
        return {"frames_sent": self._pacer.frames_sent, "max_ahead_s": round(self._pacer.max_ahead_s, 3)}

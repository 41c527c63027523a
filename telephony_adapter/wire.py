"""What every network transport shares: an event inbox that ends in Hangup, and paced output.

A concrete transport (Twilio, AudioSocket, browser) supplies the wire codec (`_encode`), how a
frame is written (`_write_frame`), what a mark means on its wire (`_send_mark`) and how the
far end is told about a clear (`_send_clear`). Everything else — framing at 20 ms, real-time
pacing, marks in order with the audio, clear, the terminal Hangup — lives here once.
"""
from __future__ import annotations

import asyncio
import logging

import numpy as np

from speech.audio import FRAME_MS, resample
from telephony_adapter.base import Hangup, MarkPlayed, TransportEvent
from telephony_adapter.pacing import FrameBuffer, OutboundPacer

log = logging.getLogger(__name__)


class PacedTransport:
    """Base for socket transports. Subclasses set wire_rate, bytes_per_sample, local_marks."""

    inbound_rate: int = 8000
    wire_rate: int = 8000
    bytes_per_sample: int = 2
    silence_byte: bytes = b"\x00"
    local_marks: bool = True
    reset_clock_on_clear: bool = False

    def __init__(self, *, lead_s: float = 0.12) -> None:
        self._events: asyncio.Queue[TransportEvent] = asyncio.Queue()
        self._ended: Hangup | None = None
        frame_bytes = self.wire_rate * FRAME_MS // 1000 * self.bytes_per_sample
        self._framer = FrameBuffer(frame_bytes, self.silence_byte)
        self._pacer = OutboundPacer(
            self._write_frame, self._mark_reached, local_marks=self.local_marks, lead_s=lead_s
        )
        self.transferred_to: str | None = None
        self.marks_dropped: list[str] = []

    # --- hooks for subclasses --------------------------------------------------------------
    def _encode(self, pcm: np.ndarray) -> bytes:
        return pcm.astype("<i2", copy=False).tobytes()

    async def _write_frame(self, frame: bytes) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def _send_mark(self, name: str) -> None:
        """Remote marks only: tell the far end to echo `name` when played."""

    async def _send_clear(self) -> None:
        """Tell the far end to drop its play-out buffer (if the protocol can)."""

    async def _close_wire(self, reason: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

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
        self._pacer.push_frames(self._framer.push(self._encode(pcm)))

    async def mark(self, name: str) -> None:
        if self._ended is not None:
            return
        self._pacer.start()
        self._pacer.push_frames(self._framer.flush())
        self._pacer.push_mark(name)

    async def clear(self) -> None:
        if self._ended is not None:
            return
        self._framer.drop()
        self.marks_dropped += self._pacer.clear(reset_clock=self.reset_clock_on_clear)
        await self._send_clear()

    async def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every queued frame has been written."""
        self._pacer.push_frames(self._framer.flush())
        return await self._pacer.drain(timeout)

    async def hangup(self, reason: str = "completed") -> None:
        """Let queued speech finish (bounded), then end the call and close the wire."""
        if self._ended is None:
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

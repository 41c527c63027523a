"""Asterisk AudioSocket: the TCP byte stream ⇄ events.

Wire (both directions): type (1 byte) | payload length (2 bytes, big-endian) | payload.
  0x00 hang-up (no payload)       0x01 UUID (16 bytes, the call)    0x03 DTMF (1 ASCII byte)
  0x10 audio: signed-linear 16-bit little-endian, 8 kHz mono, 20 ms = 320 bytes
  0xff error (payload: optional error code)
There is no clear and no mark on this wire (`serialize` returns None for them).

Incremental: `deserialize` takes any chunk of the TCP stream and returns the events of the frames
completed so far. The stream must start with the UUID frame. Fatal (the stream cannot be trusted or
framed any more; nothing after it is read): an unknown frame type, audio before the UUID, a UUID
that is not 16 bytes, audio that is not whole 16-bit samples (the peer is not sending slin16) or
over 1 s in one frame. Dropped on its own: an empty audio frame, a DTMF frame whose key is not
0-9 * # A-D, a second UUID.
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

import numpy as np

from telephony_adapter.base import AudioIn, DtmfIn, Hangup, ProtocolError, Start
from telephony_adapter.serializers.base import (
    DTMF_KEYS,
    AudioOut,
    ErrorOut,
    HangupOut,
    InboundEvent,
    OutboundEvent,
    WireError,
    pcm_frame,
    preview,
)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF
KNOWN_KINDS = {KIND_HANGUP, KIND_UUID, KIND_DTMF, KIND_AUDIO, KIND_ERROR}
HEADER = struct.Struct(">BH")
RATE = 8000
FRAME_BYTES = 320  # 20 ms of slin16 at 8 kHz
MAX_AUDIO_PAYLOAD = RATE * 2  # refuse absurd frames (> 1 s)
ERROR_CODE = b"\x01"  # what we send in our 0xff frame


@dataclass
class Frame:
    kind: int
    payload: bytes = b""


def encode(kind: int, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise ValueError("AudioSocket payload longer than 65535 bytes")
    return HEADER.pack(kind, len(payload)) + payload


class FrameReader:
    """Cuts the TCP stream into frames. Raises ProtocolError at an unknown type (the framing is lost)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buf)
            if kind not in KNOWN_KINDS:
                self._buf.clear()
                raise _Broken(frames, f"unknown AudioSocket frame type 0x{kind:02x}")
            if len(self._buf) < HEADER.size + length:
                break
            payload = bytes(self._buf[HEADER.size : HEADER.size + length])
            del self._buf[: HEADER.size + length]
            frames.append(Frame(kind, payload))
        return frames

    @property
    def pending(self) -> int:
        return len(self._buf)


class _Broken(ProtocolError):
    def __init__(self, frames: list[Frame], message: str) -> None:
        super().__init__(message)
        self.frames = frames


class AudioSocketSerializer:
    """One AudioSocket connection's serializer (see the module docstring)."""

    network = "audiosocket"
    wire_rate = RATE

    def __init__(self) -> None:
        self.reader = FrameReader()
        self.call_id: str | None = None
        self.broken: str | None = None  # set at the first fatal error; nothing is read after it

    def deserialize(self, wire: bytes) -> list[InboundEvent]:
        if self.broken is not None:
            return []
        if not isinstance(wire, (bytes, bytearray, memoryview)):
            return [self._fatal(f"AudioSocket is a byte stream, got {type(wire).__name__}")]
        events: list[InboundEvent] = []
        try:
            frames = self.reader.feed(bytes(wire))
            fatal = None
        except _Broken as exc:
            frames, fatal = exc.frames, str(exc)
        for frame in frames:
            event = self.to_event(frame)
            events.append(event)
            if isinstance(event, WireError) and event.fatal or isinstance(event, Hangup):
                break
        else:
            if fatal is not None:
                events.append(self._fatal(fatal))
        return events

    def _fatal(self, message: str) -> WireError:
        self.broken = message
        return WireError(message, fatal=True)

    def to_event(self, frame: Frame) -> InboundEvent:
        if frame.kind == KIND_UUID:
            if len(frame.payload) != 16:
                return self._fatal(f"UUID frame must carry 16 bytes, got {len(frame.payload)}")
            if self.call_id is not None:
                return WireError("a second UUID frame (ignored)")
            call_uuid = uuid.UUID(bytes=frame.payload)
            self.call_id = call_uuid.hex
            return Start(call_id=call_uuid.hex, params={"uuid": str(call_uuid)})
        if frame.kind == KIND_HANGUP:
            return Hangup(reason="hangup")
        if frame.kind == KIND_ERROR:
            code = frame.payload[:8].hex() if frame.payload else "none"
            return Hangup(reason="error", error=f"Asterisk sent an AudioSocket error frame (code {code})")
        if self.call_id is None:
            return self._fatal("AudioSocket stream must start with a UUID frame (0x01)")
        if frame.kind == KIND_AUDIO:
            if not frame.payload:
                return WireError("empty audio frame")
            if len(frame.payload) % 2 or len(frame.payload) > MAX_AUDIO_PAYLOAD:
                return self._fatal(f"audio frame of {len(frame.payload)} bytes is not whole 16-bit samples (<= 1 s)")
            return AudioIn(pcm=np.frombuffer(frame.payload, dtype="<i2").astype(np.int16), sample_rate=RATE)
        # KIND_DTMF (the reader lets no other kind through)
        digit = frame.payload.decode("ascii", "replace") if len(frame.payload) == 1 else ""
        if digit not in DTMF_KEYS:
            return WireError(f"DTMF frame with invalid key {preview(frame.payload)}")
        return DtmfIn(digit=digit)

    def serialize(self, event: OutboundEvent) -> bytes | None:
        if isinstance(event, AudioOut):
            return encode(KIND_AUDIO, pcm_frame(event.pcm))
        if isinstance(event, HangupOut):
            return encode(KIND_HANGUP)  # Asterisk leaves AudioSocket() and continues in the dialplan
        if isinstance(event, ErrorOut):
            return encode(KIND_ERROR, ERROR_CODE)
        return None  # no marks, no clear, no transfer on this wire

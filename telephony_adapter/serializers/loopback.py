"""The loopback line's wire (telephony_adapter/loopback.py) ⇄ events.

The line carries what a real network carries: 8 kHz G.711 μ-law in 20 ms frames (160 bytes), and
out of band (as RFC 4733 and Twilio's JSON do) keypresses, marks and clears:
  to the agent      bytes (one μ-law frame) | Keypress(key) | LineMark(name): a mark has played
  from the agent    bytes (one μ-law frame) | LineMark(name) | LineClear()
Marks are remote, as on Twilio: the line echoes a mark when the frame before it has played, and
`LineClear` drops what the line still has to play.

Bad input: anything else on the inbound wire — a frame that is not 160 bytes, or not bytes at all —
is fatal (the line is broken: the call ends with a protocol error). A keypress outside
0-9 * # A-D is dropped on its own.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from telephony_adapter.base import AudioIn, DtmfIn, MarkPlayed
from telephony_adapter.serializers.base import (
    DTMF_KEYS,
    AudioOut,
    ClearOut,
    InboundEvent,
    MarkOut,
    OutboundEvent,
    WireError,
    pcm_frame,
    preview,
)

WIRE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = WIRE_RATE * FRAME_MS // 1000  # 160
FRAME_BYTES = FRAME_SAMPLES  # μ-law: one byte per sample


@dataclass
class Keypress:
    key: str


@dataclass
class LineMark:
    name: str


@dataclass
class LineClear:
    pass


LineWire = bytes | Keypress | LineMark | LineClear


def _codec():
    from speech import audio  # the one place that knows G.711 and resampling

    return audio


def encode_wire(pcm: np.ndarray, sample_rate: int) -> bytes:
    """int16 PCM at any rate -> 8 kHz μ-law bytes."""
    audio = _codec()
    pcm = np.asarray(pcm)
    if pcm.dtype != np.int16:
        raise TypeError(f"expected int16 PCM, got {pcm.dtype}")
    if sample_rate != WIRE_RATE:
        pcm = audio.resample(pcm, sample_rate, WIRE_RATE)
    return bytes(audio.ulaw_encode(pcm))


def decode_wire(data: bytes) -> np.ndarray:
    """8 kHz μ-law bytes -> int16 PCM at 8 kHz."""
    return np.asarray(_codec().ulaw_decode(data), dtype=np.int16)


class LoopbackSerializer:
    network = "loopback"
    wire_rate = WIRE_RATE

    def deserialize(self, wire: object) -> list[InboundEvent]:
        if isinstance(wire, Keypress):
            if not isinstance(wire.key, str) or wire.key not in DTMF_KEYS:
                return [WireError(f"loopback: keypress {preview(wire.key)} is not one of 0-9 * # A-D")]
            return [DtmfIn(wire.key)]
        if isinstance(wire, LineMark):
            return [MarkPlayed(wire.name)]
        if not isinstance(wire, (bytes, bytearray, memoryview)):
            return [WireError(f"loopback: expected bytes on the wire, got {type(wire).__name__}", fatal=True)]
        if len(wire) != FRAME_BYTES:
            return [WireError(f"loopback: malformed audio frame of {len(wire)} bytes "
                              f"(8 kHz μ-law 20 ms frames are {FRAME_BYTES} bytes)", fatal=True)]
        return [AudioIn(decode_wire(bytes(wire)), WIRE_RATE)]

    def serialize(self, event: OutboundEvent) -> LineWire | None:
        if isinstance(event, AudioOut):
            return bytes(_codec().ulaw_encode(np.frombuffer(pcm_frame(event.pcm), dtype="<i2")))
        if isinstance(event, MarkOut):
            return LineMark(event.name)
        if isinstance(event, ClearOut):
            return LineClear()
        return None  # a hang-up or transfer ends the line itself

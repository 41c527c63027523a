"""SIP: what the PJSIP call leg hands over ⇄ events.

PJSIP speaks the network protocols (SIP signalling, RTP, G.711 A-law/μ-law, the jitter buffer,
RFC 4733 telephone-events); the leg (`sip/leg.py`) hands the loop two kinds of message:
  bytes  one 20 ms frame of 8 kHz int16 little-endian PCM from the media port (320 bytes)
  str    one RFC 4733 digit as PJSIP reports it (e.g. "5", "#", "a")
and takes 320-byte PCM frames for its outbound queue (`AudioOut`). There is no wire message for a
mark, a clear or a hang-up: marks are local, a clear drops the leg's queue, a hang-up is a BYE.

Nothing here is fatal (PJSIP has already parsed and decoded the network's packets): a frame of
another size, or a key outside 0-9 * # A-D, is dropped on its own.
"""
from __future__ import annotations

import numpy as np

from telephony_adapter.base import AudioIn, DtmfIn
from telephony_adapter.serializers.base import DTMF_KEYS, AudioOut, InboundEvent, OutboundEvent, WireError, preview

RATE = 8000
FRAME_BYTES = 320  # 20 ms of 16-bit mono PCM at 8 kHz (sip/leg.py's media port format)


class SipSerializer:
    network = "sip"
    wire_rate = RATE

    def deserialize(self, wire: bytes | str | object) -> list[InboundEvent]:
        if isinstance(wire, str):
            key = wire.upper()
            if len(key) != 1 or key not in DTMF_KEYS:
                return [WireError(f"RFC 4733 event {preview(wire)} is not one of 0-9 * # A-D")]
            return [DtmfIn(digit=key)]
        if not isinstance(wire, (bytes, bytearray, memoryview)):
            return [WireError(f"the leg handed over a {type(wire).__name__}, not a frame or a digit")]
        if len(wire) != FRAME_BYTES:
            return [WireError(f"media frame of {len(wire)} bytes (expected {FRAME_BYTES})")]
        return [AudioIn(pcm=np.frombuffer(bytes(wire), dtype="<i2").astype(np.int16), sample_rate=RATE)]

    def serialize(self, event: OutboundEvent) -> bytes | None:
        if isinstance(event, AudioOut):
            if len(event.pcm) != FRAME_BYTES:
                raise ValueError(f"the media port takes {FRAME_BYTES}-byte frames, got {len(event.pcm)}")
            return event.pcm
        return None

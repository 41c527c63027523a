"""One serializer protocol for every network: wire messages ⇄ typed events.

A serializer knows one wire format and nothing else: no sockets, no clocks, no pacing. The
transport reads from its socket, hands each message to `deserialize` and acts on the events that
come back; to send, it builds an outbound event and writes what `serialize` returns. The same
events cross every network, so the transports differ only in how they move bytes.

    events = serializer.deserialize(wire)   # -> list of Start | AudioIn | DtmfIn | MarkPlayed | Hangup | WireError
    wire = serializer.serialize(event)      # AudioOut | MarkOut | ClearOut | HangupOut | ErrorOut | TransferOut
                                            # -> the wire message, or None when the network has no such message

Bad input never raises out of a serializer. It comes back as a `WireError`: `fatal=False` when one
message was bad and the stream is still trustworthy (the transport drops it with a log line and
the call goes on), `fatal=True` when the peer is not speaking the protocol at all or the stream
can no longer be framed (the transport ends the call with `Hangup("protocol_error", …)` and tells
the peer if its protocol can).

Serializers are per call: some keep a little state (the Twilio stream sid and sequence numbers,
AudioSocket's partial TCP frame, the browser's odd byte).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from telephony_adapter.base import AudioIn, DtmfIn, Hangup, MarkPlayed, Start

DTMF_KEYS = frozenset("0123456789*#ABCD")  # RFC 4733 events 0-15


@dataclass
class WireError:
    """Malformed or hostile input. `message` is for humans (and logs); it never echoes much of the input."""

    message: str
    fatal: bool = False


InboundEvent = Start | AudioIn | DtmfIn | MarkPlayed | Hangup | WireError


# --- what a transport asks a serializer to put on the wire ------------------------------------
@dataclass
class AudioOut:
    """One 20 ms frame of agent audio: int16 little-endian mono PCM at the serializer's `wire_rate`.
    The serializer applies the network's codec (μ-law for Twilio, none for slin/PCM networks)."""

    pcm: bytes


@dataclass
class MarkOut:
    """Ask the far end to report when everything sent before it has played (networks with remote marks)."""

    name: str


@dataclass
class ClearOut:
    """Barge-in: the far end drops what it has buffered for play-out."""


@dataclass
class HangupOut:
    reason: str = "completed"


@dataclass
class ErrorOut:
    """We end the call because of the peer's bad input; tell it why, if the protocol can."""

    message: str


@dataclass
class TransferOut:
    target: str = ""


OutboundEvent = AudioOut | MarkOut | ClearOut | HangupOut | ErrorOut | TransferOut

Wire = TypeVar("Wire")


class FrameSerializer(Protocol[Wire]):
    """The protocol every network's serializer implements (`Wire` is its message type)."""

    network: str  # "twilio", "audiosocket", "browser", "sip", "loopback"
    wire_rate: int  # sample rate of AudioIn and of AudioOut's PCM

    def deserialize(self, wire: Wire) -> list[InboundEvent]:
        """Events carried by one wire message (or TCP chunk); [] when it carries none. Never raises."""
        ...

    def serialize(self, event: OutboundEvent) -> Wire | None:
        """The wire message for `event`, or None when this network has no such message."""
        ...


def pcm_frame(pcm: bytes) -> bytes:
    """Whole int16 samples only (a transport hands whole frames; this guards a wrong caller)."""
    if len(pcm) % 2:
        raise ValueError(f"AudioOut carries int16 PCM: {len(pcm)} bytes is not whole samples")
    return pcm


def preview(data: object, limit: int = 40) -> str:
    """A short, safe description of hostile input for an error message (no megabytes in the logs)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data[:limit])
        return f"{len(data)} bytes {raw.hex()}{'…' if len(data) > limit else ''}"
    text = str(data)
    return repr(text[:limit]) + ("…" if len(text) > limit else "")

"""The transport seam. A CallSession only ever sees these events and this interface.

Audio crossing the seam is 16-bit signed PCM (numpy int16) with its sample rate; the
transport owns the wire codec (μ-law, A-law, slin), 20 ms pacing, `clear` and marks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class ProtocolError(Exception):
    """Malformed wire data. The message is for humans; the call ends cleanly."""


# --- events a transport yields to the session -------------------------------------------
@dataclass
class Start:
    call_id: str | None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class AudioIn:
    pcm: np.ndarray  # int16 mono
    sample_rate: int


@dataclass
class DtmfIn:
    digit: str


@dataclass
class MarkPlayed:
    """All agent audio queued before mark `name` has been played to the callee."""

    name: str


@dataclass
class Hangup:
    reason: str = "hangup"  # hangup | error | timeout | transferred
    error: str | None = None


TransportEvent = Start | AudioIn | DtmfIn | MarkPlayed | Hangup

# hang-up reasons that mean the line itself is gone: queued speech is not played out first (nobody hears it)
DEAD_LINE_REASONS = frozenset({"network_timeout", "protocol_error"})


class Transport(Protocol):
    """One live call leg. All methods are coroutine-safe from one event loop."""

    inbound_rate: int  # sample rate of AudioIn

    async def receive(self) -> TransportEvent:
        """Next event. After the call ends, returns Hangup forever."""
        ...

    async def send_audio(self, pcm: np.ndarray, sample_rate: int) -> None:
        """Queue agent audio; the transport converts, frames at 20 ms and paces in real time."""
        ...

    async def mark(self, name: str) -> None:
        """Queue a mark after the audio sent so far; a MarkPlayed(name) comes back when it is played."""
        ...

    async def clear(self) -> None:
        """Barge-in: drop all queued, unplayed agent audio at once (marks behind it never come back)."""
        ...

    async def hangup(self, reason: str = "completed") -> None: ...

    async def transfer(self, target: str | None = None) -> bool:
        """Hand the live call to a human. Returns False when the network cannot transfer."""
        ...

"""The dial seam: one `Dialer` per network, all reached through `agent.dialing.place.place_call`.

A dialer rings `DialTarget.phone`. When the callee answers it runs the call session for
`DialTarget.call_id` (through the `SessionRunner` it was built with) and returns once the call is
over. A call that never connected returns its network result (busy, no_answer, …) and no session.
Dialers never ask the compliance gate themselves: `place_call` has asked it right before.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.session import CallResult
from telephony_adapter.base import Transport

NETWORKS = ("loopback", "twilio", "sip")  # networks dialwise dials out on
CONNECT_NETWORKS = ("audiosocket", "browser")  # the far end connects to a call dialwise prepared

# What a dial ended as, from the network's side. `answered`: a session ran (see DialOutcome.call).
ANSWERED = "answered"
BUSY = "busy"
NO_ANSWER = "no_answer"
FAILED = "failed"
INVALID_NUMBER = "invalid_number"
TRUNK_REFUSED = "trunk_refused"  # the carrier refused us (403/503): a campaign-level alarm
CANCELED = "canceled"
DIAL_RESULTS = (ANSWERED, BUSY, NO_ANSWER, FAILED, INVALID_NUMBER, TRUNK_REFUSED, CANCELED)
RETRY_RESULTS = (BUSY, NO_ANSWER)  # retried with backoff up to the campaign's max attempts

# Runs the CallSession for an existing call row over a connected transport.
SessionRunner = Callable[[str, Transport], Awaitable[CallResult]]


@dataclass(frozen=True)
class DialTarget:
    call_id: str
    account_id: str
    phone: str  # E.164
    script_id: str
    language: str
    attempt_id: str | None = None
    campaign_id: str | None = None
    persona: dict[str, Any] | None = None  # loopback only: who the simulated callee is


@dataclass
class DialOutcome:
    result: str  # one of DIAL_RESULTS
    call: CallResult | None = None  # the session's result, when the callee answered
    provider_ref: str | None = None  # e.g. Twilio CallSid, SIP Call-ID
    detail: str | None = None  # e.g. "SIP 486 Busy Here"
    extra: dict[str, Any] = field(default_factory=dict)  # network specifics (latencies, logs)


class Dialer(Protocol):
    network: str
    # (key, calls per second) of the carrier's limit, held across all workers; None: no limit
    rate_limit: tuple[str, float] | None

    async def dial(self, target: DialTarget) -> DialOutcome:
        """Ring the callee; run the session if answered; return when the call is over."""
        ...

    async def close(self) -> None:
        """Release the network (sockets, SIP registration). Idempotent."""
        ...


class DialError(Exception):
    """The network could not place the call (settings missing, carrier unreachable). Clear text."""

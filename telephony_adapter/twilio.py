"""Twilio: the Media Streams transport, TwiML, URLs and signature checks.

The wire format (JSON text ⇄ events, sequence order) is `serializers/twilio.py`; the REST client
(placing, redirecting and hanging up calls) is `twilio_rest.py`; the websocket route is
`twilio_routes.py`. Marks are sent to Twilio and come back when played; `clear` empties Twilio's
play-out buffer.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from telephony_adapter.base import AudioIn, Hangup, MarkPlayed, Start
from telephony_adapter.serializers.base import InboundEvent
from telephony_adapter.serializers.twilio import StreamStats, TwilioSerializer
from telephony_adapter.wire import PacedTransport

if TYPE_CHECKING:
    from telephony_adapter.twilio_rest import TwilioRest

log = logging.getLogger(__name__)

MEDIA_STREAM_PATH = "/twilio/media-stream"
STATUS_PATH = "/twilio/status"
TWIML_PATH = "/twilio/twiml"
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
__all__ = ["StreamStats", "TwilioMediaStreamTransport", "TwilioSerializer", "TextSocket"]


# --------------------------------------------------------------------------------------------
# transport
# --------------------------------------------------------------------------------------------
class TextSocket(Protocol):
    """The little a transport needs from a websocket (see twilio_routes.StarletteSocket)."""

    async def recv(self) -> str | bytes | None: ...  # None once the peer is gone

    async def send(self, data: str | bytes) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class TwilioMediaStreamTransport(PacedTransport):
    """One bidirectional Media Stream (= one call leg). Marks are echoed by Twilio when played."""

    inbound_rate = 8000
    wire_rate = 8000
    local_marks = False
    reset_clock_on_clear = True  # Twilio empties its buffer on `clear`

    def __init__(self, socket: TextSocket, *, rest: TwilioRest | None = None, lead_s: float = 0.2) -> None:
        super().__init__(lead_s=lead_s)
        self.socket = socket
        self.rest = rest
        self.serializer: TwilioSerializer = TwilioSerializer()
        self.start_event: Start | None = None
        self.media_in = 0
        self.stray_marks = 0  # echoes of marks we never sent (or already had)
        self._started = asyncio.Event()
        self._outstanding: set[str] = set()  # marks sent to Twilio, not yet echoed
        self._cleared: set[str] = set()  # marks Twilio may echo although a clear dropped their audio
        self._reader: asyncio.Task | None = None
        self._send_lock = asyncio.Lock()

    @property
    def stream_sid(self) -> str | None:
        return self.serializer.stream_sid

    @property
    def call_sid(self) -> str | None:
        return self.serializer.call_sid

    @property
    def call_id(self) -> str | None:
        return self.start_event.call_id if self.start_event else None

    @property
    def stats(self) -> StreamStats:
        return self.serializer.stats

    # --- lifecycle ------------------------------------------------------------------------
    def open(self) -> None:
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_loop(), name="twilio-reader")

    async def wait_start(self, timeout: float = 10.0) -> Start | None:
        """The stream's Start, or None when it ended (stop, error, timeout) before starting."""
        self.open()
        waiter = asyncio.ensure_future(self._started.wait())
        ended = asyncio.ensure_future(self._wait_ended())
        done, pending = await asyncio.wait({waiter, ended}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if self.start_event is None:
            if not done:
                self._end("error", f"no 'start' message within {timeout:.0f} s")
                await self.close("no start")
            return None
        return self.start_event

    async def _wait_ended(self) -> None:
        while self._ended is None:
            await asyncio.sleep(0.05)

    async def close(self, reason: str = "closed") -> None:
        await super().close(reason)
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass

    async def _close_wire(self, reason: str) -> None:
        await self.socket.close(1000, reason[:120])

    async def _abort_wire(self, message: str) -> None:
        await self.socket.close(1007, message[:120])  # 1007: invalid frame payload data

    # --- inbound --------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        try:
            while self._ended is None:
                raw = await self.socket.recv()
                if raw is None:
                    self._end("hangup", "media stream socket closed")
                    break
                self._take(raw)
                if self.protocol_error is not None:
                    self._started.set()
                    await self._refuse()
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a dying socket surfaces as assorted errors
            self._end("hangup", f"media stream socket failed: {exc}")
        finally:
            self._started.set()

    def _on_event(self, event: InboundEvent) -> None:
        if isinstance(event, Start):
            if self.start_event is None:
                self.start_event = event
                self._emit(event)
                self._started.set()
        elif isinstance(event, MarkPlayed):
            if event.name in self._cleared:
                self._cleared.discard(event.name)  # its audio was cleared, not played
            elif event.name in self._outstanding:
                self._outstanding.discard(event.name)
                self._emit(event)
            else:
                self.stray_marks += 1
        elif isinstance(event, Hangup):
            self._end(event.reason, event.error)
        else:
            if isinstance(event, AudioIn):
                self.media_in += 1
            super()._on_event(event)

    # --- outbound -------------------------------------------------------------------------
    async def _send_wire(self, wire: str) -> None:
        async with self._send_lock:
            try:
                await self.socket.send(wire)
            except Exception as exc:
                self._end("hangup", f"media stream socket failed: {exc}")

    async def _send_mark(self, name: str) -> None:
        self._outstanding.add(name)
        await super()._send_mark(name)

    async def _send_clear(self) -> None:
        self._cleared |= self._outstanding
        self._outstanding.clear()
        await super()._send_clear()

    async def transfer(self, target: str | None = None) -> bool:
        if self.rest is None or not self.call_sid or self._ended is not None:
            return False
        target = target or self.rest.settings.transfer_number
        if not target:
            log.warning("transfer asked but TRANSFER_NUMBER is not set")
            return False
        try:
            await asyncio.to_thread(self.rest.redirect_to_human, self.call_sid, target)
        except Exception as exc:
            log.error("twilio transfer of %s failed: %s", self.call_sid, exc)
            return False
        self.transferred_to = target
        self._end("transferred")
        await self.close("transferred")
        return True


# --------------------------------------------------------------------------------------------
# TwiML, URLs, signatures (the REST client: telephony_adapter.twilio_rest)
# --------------------------------------------------------------------------------------------
def ws_base(http_base: str) -> str:
    base = http_base.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :]
    if base.startswith("http://"):
        return "ws://" + base[len("http://") :]
    return base


def media_stream_url(http_base: str) -> str:
    return ws_base(http_base) + MEDIA_STREAM_PATH


def status_callback_url(http_base: str, call_id: str) -> str:
    return f"{http_base.rstrip('/')}{STATUS_PATH}?{urlencode({'call_id': call_id})}"


def stream_twiml(call_id: str, http_base: str) -> str:
    """<Connect><Stream> (bidirectional) carrying the call id as a custom parameter."""
    from twilio.twiml.voice_response import Connect, VoiceResponse

    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=media_stream_url(http_base))
    stream.parameter(name="call_id", value=call_id)
    response.append(connect)
    return str(response)


def transfer_twiml(target: str) -> str:
    """Dial a person: E.164 number, sip: URI, or queue:<name> for a Twilio queue (<Enqueue>)."""
    from twilio.twiml.voice_response import Dial, VoiceResponse

    response = VoiceResponse()
    if target.startswith("queue:"):
        response.enqueue(target[len("queue:") :])
    else:
        dial = Dial()
        if target.startswith("sip:"):
            dial.sip(target)
        else:
            dial.number(target)
        response.append(dial)
    return str(response)


def validate_signature(auth_token: str, url: str, params: dict[str, Any] | None, signature: str | None) -> bool:
    """X-Twilio-Signature check (HMAC-SHA1 of URL + sorted params, keyed by the auth token)."""
    if not signature or not auth_token:
        return False
    from twilio.request_validator import RequestValidator

    return bool(RequestValidator(auth_token).validate(url, params or {}, signature))


def sign(auth_token: str, url: str, params: dict[str, Any] | None = None) -> str:
    """The signature Twilio would send (for tests and local tools)."""
    from twilio.request_validator import RequestValidator

    return RequestValidator(auth_token).compute_signature(url, params or {})


def __getattr__(name: str) -> Any:
    """`TwilioRest` and its errors moved to telephony_adapter.twilio_rest; old imports keep working."""
    if name in ("TwilioRest", "TwilioError", "TwilioSetupError", "TwilioRefused", "TwilioUnreachable"):
        from telephony_adapter import twilio_rest

        return getattr(twilio_rest, name)
    raise AttributeError(name)

"""Twilio: Media Streams serializer + transport, TwiML, signature checks and the REST client.

Wire reference: Twilio "Media Streams - WebSocket Messages". In: connected, start, media
(base64 μ-law 8 kHz), dtmf, mark, stop. Out (bidirectional <Connect><Stream>): media, mark,
clear. Every message but `connected` carries a string `sequenceNumber` counting from 1.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

import numpy as np

from speech.audio import ulaw_decode, ulaw_encode
from telephony_adapter.base import AudioIn, DtmfIn, Hangup, MarkPlayed, ProtocolError, Start, TransportEvent
from telephony_adapter.wire import PacedTransport

if TYPE_CHECKING:
    from telephony_adapter.twilio_rest import TwilioRest

log = logging.getLogger(__name__)

MEDIA_STREAM_PATH = "/twilio/media-stream"
STATUS_PATH = "/twilio/status"
TWIML_PATH = "/twilio/twiml"
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
DTMF_DIGITS = set("0123456789*#ABCD")


# --------------------------------------------------------------------------------------------
# serializer: wire text <-> typed messages
# --------------------------------------------------------------------------------------------
@dataclass
class TwilioMessage:
    event: str
    seq: int | None = None
    stream_sid: str | None = None
    call_sid: str | None = None
    item: TransportEvent | None = None  # the typed event, when the message carries one


class TwilioSerializer:
    """Stateless: one JSON text message in -> TwilioMessage; outbound messages -> JSON text."""

    def deserialize(self, raw: str | bytes) -> TwilioMessage:
        if isinstance(raw, bytes):
            raise ProtocolError("binary frame on a Twilio media stream (messages are JSON text)")
        try:
            msg = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"malformed JSON from media stream: {exc.msg} at char {exc.pos}") from None
        except ValueError as exc:  # e.g. an integer longer than Python's int conversion limit
            raise ProtocolError(f"malformed JSON from media stream: {exc}") from None
        if not isinstance(msg, dict) or not isinstance(msg.get("event"), str):
            raise ProtocolError("media stream message is not a JSON object with an 'event' string")
        event = msg["event"]
        seq = self._seq(msg.get("sequenceNumber"))
        sid = msg.get("streamSid") if isinstance(msg.get("streamSid"), str) else None
        out = TwilioMessage(event=event, seq=seq, stream_sid=sid)
        if event == "start":
            start = self._obj(msg, "start")
            params = start.get("customParameters") or {}
            if not isinstance(params, dict):
                raise ProtocolError("start.customParameters must be an object")
            fmt = start.get("mediaFormat") or {}
            if fmt and (fmt.get("encoding") not in (None, "audio/x-mulaw") or int(fmt.get("sampleRate", 8000)) != 8000):
                raise ProtocolError(f"unsupported media format {fmt!r}; expected audio/x-mulaw 8000 Hz")
            out.stream_sid = start.get("streamSid") or sid
            out.call_sid = start.get("callSid")
            info = {
                "call_sid": out.call_sid,
                "stream_sid": out.stream_sid,
                "account_sid": start.get("accountSid"),
                "custom": {str(k): str(v) for k, v in params.items()},
            }
            call_id = params.get("call_id")
            out.item = Start(call_id=str(call_id) if call_id else None, params=info)
        elif event == "media":
            media = self._obj(msg, "media")
            if media.get("track", "inbound") not in ("inbound", "inbound_track"):
                return out  # outbound-track echo (unidirectional forks); not callee audio
            payload = media.get("payload")
            if not isinstance(payload, str):
                raise ProtocolError("media message without a base64 'payload'")
            try:
                data = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise ProtocolError("media payload is not valid base64") from None
            out.item = AudioIn(pcm=ulaw_decode(data), sample_rate=8000)
        elif event == "dtmf":
            digit = str(self._obj(msg, "dtmf").get("digit", ""))
            if digit not in DTMF_DIGITS:
                raise ProtocolError(f"dtmf digit {digit!r} is not one of 0-9 * # A-D")
            out.item = DtmfIn(digit=digit)
        elif event == "mark":
            name = self._obj(msg, "mark").get("name")
            if not isinstance(name, str):
                raise ProtocolError("mark message without a 'name'")
            out.item = MarkPlayed(name=name)
        elif event == "stop":
            stop = msg.get("stop")
            if not isinstance(stop, dict):
                stop = {}
            out.call_sid = stop.get("callSid")
            out.item = Hangup(reason="hangup")
        return out  # "connected" and unknown future events carry no typed item

    @staticmethod
    def _seq(value: Any) -> int | None:
        if value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ProtocolError(f"sequenceNumber {value!r} is not a number") from None

    @staticmethod
    def _obj(msg: dict, key: str) -> dict:
        value = msg.get(key)
        if not isinstance(value, dict):
            raise ProtocolError(f"'{msg.get('event')}' message without a '{key}' object")
        return value

    # outbound
    @staticmethod
    def media(stream_sid: str, ulaw: bytes) -> str:
        payload = base64.b64encode(ulaw).decode("ascii")
        return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})

    @staticmethod
    def mark(stream_sid: str, name: str) -> str:
        return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})

    @staticmethod
    def clear(stream_sid: str) -> str:
        return json.dumps({"event": "clear", "streamSid": stream_sid})


class SequenceGate:
    """Drops duplicate sequence numbers and re-orders small swaps; gives up on a gap after `window`."""

    def __init__(self, window: int = 4) -> None:
        self.window = window
        self.next: int | None = None
        self._pending: dict[int, TwilioMessage] = {}
        self.duplicates = 0
        self.gaps = 0

    def reset(self, after: int) -> None:
        self.next = after + 1
        self._pending.clear()

    def push(self, msg: TwilioMessage) -> list[TwilioMessage]:
        if msg.seq is None:
            return [msg]
        if self.next is None:
            self.next = msg.seq
        if msg.seq < self.next or msg.seq in self._pending:
            self.duplicates += 1
            return []
        self._pending[msg.seq] = msg
        out = self._release()
        if len(self._pending) > self.window:  # the missing message is lost: skip the gap
            self.gaps += 1
            self.next = min(self._pending)
            out += self._release()
        return out

    def flush(self) -> list[TwilioMessage]:
        out = [self._pending[k] for k in sorted(self._pending)]
        self._pending.clear()
        return out

    def _release(self) -> list[TwilioMessage]:
        out = []
        while self.next in self._pending:
            out.append(self._pending.pop(self.next))
            self.next += 1
        return out


# --------------------------------------------------------------------------------------------
# transport
# --------------------------------------------------------------------------------------------
class TextSocket(Protocol):
    """The little a transport needs from a websocket (see twilio_routes.StarletteSocket)."""

    async def recv(self) -> str | bytes | None: ...  # None once the peer is gone

    async def send(self, data: str | bytes) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


@dataclass
class StreamStats:
    before_start: int = 0
    stray_marks: int = 0
    media_in: int = 0
    counters: dict[str, int] = field(default_factory=dict)


class TwilioMediaStreamTransport(PacedTransport):
    """One bidirectional Media Stream (= one call leg). Marks are echoed by Twilio when played."""

    inbound_rate = 8000
    wire_rate = 8000
    bytes_per_sample = 1  # μ-law
    silence_byte = b"\xff"  # μ-law zero
    local_marks = False
    reset_clock_on_clear = True  # Twilio empties its buffer on `clear`

    def __init__(self, socket: TextSocket, *, rest: TwilioRest | None = None, lead_s: float = 0.2) -> None:
        super().__init__(lead_s=lead_s)
        self.socket = socket
        self.rest = rest
        self.serializer = TwilioSerializer()
        self.gate = SequenceGate()
        self.stats = StreamStats()
        self.stream_sid: str | None = None
        self.call_sid: str | None = None
        self.start_event: Start | None = None
        self._started = asyncio.Event()
        self._outstanding: set[str] = set()  # marks sent to Twilio, not yet echoed
        self._cleared: set[str] = set()  # marks Twilio may echo although a clear dropped their audio
        self._reader: asyncio.Task | None = None
        self._send_lock = asyncio.Lock()

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

    # --- inbound --------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        try:
            while self._ended is None:
                raw = await self.socket.recv()
                if raw is None:
                    self._end("hangup", "media stream socket closed")
                    break
                try:
                    msg = self.serializer.deserialize(raw)
                except ProtocolError as exc:
                    log.warning("twilio stream %s: %s", self.stream_sid, exc)
                    self._end("error", str(exc))
                    self._started.set()
                    await self._pacer.close()
                    await self.socket.close(1007, str(exc)[:120])
                    break
                self._handle(msg)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a dying socket surfaces as assorted errors
            self._end("hangup", f"media stream socket failed: {exc}")
        finally:
            self._started.set()

    def _handle(self, msg: TwilioMessage) -> None:
        if msg.event == "connected":
            return
        if self.start_event is None:
            if msg.event == "start":
                self.stream_sid, self.call_sid = msg.stream_sid, msg.call_sid
                self.start_event = msg.item  # type: ignore[assignment]
                if msg.seq is not None:
                    self.gate.reset(after=msg.seq)
                self._emit(msg.item)  # type: ignore[arg-type]
                self._started.set()
            elif msg.event == "stop":
                self._end("hangup", "stream stopped before it started")
            else:
                self.stats.before_start += 1  # media/dtmf/mark before start: nobody to give it to
            return
        for m in self.gate.push(msg) if msg.event != "stop" else [*self.gate.flush(), msg]:
            self._dispatch(m)

    def _dispatch(self, msg: TwilioMessage) -> None:
        item = msg.item
        if msg.event == "start":
            return  # a repeated start changes nothing
        if isinstance(item, AudioIn):
            self.stats.media_in += 1
            self._emit(item)
        elif isinstance(item, MarkPlayed):
            if item.name in self._cleared:
                self._cleared.discard(item.name)  # its audio was cleared, not played
            elif item.name in self._outstanding:
                self._outstanding.discard(item.name)
                self._emit(item)
            else:
                self.stats.stray_marks += 1
        elif isinstance(item, DtmfIn):
            self._emit(item)
        elif isinstance(item, Hangup):
            self._end("hangup")

    # --- outbound -------------------------------------------------------------------------
    def _encode(self, pcm: np.ndarray) -> bytes:
        return ulaw_encode(pcm)

    async def _send(self, text: str) -> None:
        if self.stream_sid is None:
            return
        async with self._send_lock:
            try:
                await self.socket.send(text)
            except Exception as exc:
                self._end("hangup", f"media stream socket failed: {exc}")

    async def _write_frame(self, frame: bytes) -> None:
        await self._send(self.serializer.media(self.stream_sid or "", frame))

    async def _send_mark(self, name: str) -> None:
        self._outstanding.add(name)
        await self._send(self.serializer.mark(self.stream_sid or "", name))

    async def _send_clear(self) -> None:
        self._cleared |= self._outstanding
        self._outstanding.clear()
        await self._send(self.serializer.clear(self.stream_sid or ""))

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

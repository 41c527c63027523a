"""Twilio Media Streams: websocket JSON text ⇄ events.

Wire reference: Twilio "Media Streams - WebSocket Messages". In: connected, start, media (base64
μ-law 8 kHz), dtmf, mark, stop. Out (bidirectional <Connect><Stream>): media, mark, clear. Every
message but `connected` carries a string `sequenceNumber` counting from 1.

Per stream (one instance per call): it learns the stream sid from `start` (every outbound message
names it), puts messages back in sequence order (duplicates dropped, small swaps re-ordered, a gap
skipped after `window` later messages), and drops media, DTMF and marks that arrive before `start`.

Bad input: text that is not a JSON object with an `event` string, a binary frame, or a `start`
we cannot use (media format, parameters) is fatal — the peer is not a Twilio media stream. A
well-formed message with a bad field (payload not base64, an unknown DTMF key, a mark without a
name, a sequence number that is not a number) is dropped on its own; the call goes on.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from speech.audio import ulaw_decode, ulaw_encode
from telephony_adapter.base import AudioIn, DtmfIn, Hangup, MarkPlayed, ProtocolError, Start
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

RATE = 8000
MAX_MEDIA_BYTES = RATE  # 1 s of μ-law; Twilio sends 20 ms (160 bytes) per message


@dataclass
class _Message:
    """One parsed message: its sequence number and the events it carries (in order)."""

    event: str
    seq: int | None
    items: list[InboundEvent]


@dataclass
class StreamStats:
    before_start: int = 0  # media/dtmf/mark before `start`: nobody to give them to
    duplicates: int = 0
    gaps: int = 0  # messages that never came (skipped after `window` later ones)


class SequenceGate:
    """Drops duplicate sequence numbers and re-orders small swaps; gives up on a gap after `window`."""

    def __init__(self, stats: StreamStats, window: int = 4) -> None:
        self.window = window
        self.stats = stats
        self.next: int | None = None
        self._pending: dict[int, _Message] = {}

    def reset(self, after: int) -> None:
        self.next = after + 1
        self._pending.clear()

    def push(self, msg: _Message) -> list[_Message]:
        if msg.seq is None:
            return [msg]
        if self.next is None:
            self.next = msg.seq
        if msg.seq < self.next or msg.seq in self._pending:
            self.stats.duplicates += 1
            return []
        self._pending[msg.seq] = msg
        out = self._release()
        if len(self._pending) > self.window:  # the missing message is lost: skip the gap
            self.stats.gaps += 1
            self.next = min(self._pending)
            out += self._release()
        return out

    def flush(self) -> list[_Message]:
        out = [self._pending[k] for k in sorted(self._pending)]
        self._pending.clear()
        return out

    def _release(self) -> list[_Message]:
        out = []
        while self.next is not None and self.next in self._pending:
            out.append(self._pending.pop(self.next))
            self.next += 1
        return out


class TwilioSerializer:
    """One Twilio media stream's serializer (see the module docstring)."""

    network = "twilio"
    wire_rate = RATE

    def __init__(self, window: int = 4) -> None:
        self.stats = StreamStats()
        self.gate = SequenceGate(self.stats, window)
        self.stream_sid: str | None = None
        self.call_sid: str | None = None
        self.started = False

    # --- inbound ----------------------------------------------------------------------------
    def deserialize(self, wire: str | bytes) -> list[InboundEvent]:
        try:
            msg = self._parse(wire)
        except ProtocolError as exc:
            return [WireError(str(exc), fatal=True)]
        if msg.event == "connected":
            return []
        if not self.started:
            return self._before_start(msg)
        if msg.event == "start":
            return []  # a repeated start changes nothing
        if msg.event == "stop":
            released = [*self.gate.flush(), msg]
        else:
            released = self.gate.push(msg)
        return [item for m in released for item in m.items]

    def _before_start(self, msg: _Message) -> list[InboundEvent]:
        start = next((i for i in msg.items if isinstance(i, Start)), None)
        if start is not None:
            self.started = True
            if msg.seq is not None:
                self.gate.reset(after=msg.seq)
            return [start]
        if msg.event == "stop":
            return [Hangup(reason="hangup", error="stream stopped before it started")]
        if msg.items:
            self.stats.before_start += 1
        return []

    def _parse(self, raw: str | bytes) -> _Message:
        """Raises ProtocolError only for what is fatal; a bad field becomes a WireError item."""
        if isinstance(raw, (bytes, bytearray, memoryview)):
            raise ProtocolError("binary frame on a Twilio media stream (messages are JSON text)")
        if not isinstance(raw, str):
            raise ProtocolError(f"a Twilio media stream message is JSON text, got {type(raw).__name__}")
        try:
            msg = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"malformed JSON from media stream: {exc.msg} at char {exc.pos}") from None
        except (ValueError, RecursionError) as exc:  # e.g. an integer past Python's limit, deep nesting
            raise ProtocolError(f"malformed JSON from media stream: {type(exc).__name__}") from None
        if not isinstance(msg, dict) or not isinstance(msg.get("event"), str):
            raise ProtocolError("media stream message is not a JSON object with an 'event' string")
        event = msg["event"]
        try:
            seq = self._seq(msg.get("sequenceNumber"))
        except ProtocolError as exc:
            return _Message(event, None, [WireError(str(exc))])
        if event == "start":
            return _Message(event, seq, [self._start(msg)])
        try:
            return _Message(event, seq, self._items(event, msg))
        except ProtocolError as exc:
            return _Message(event, seq, [WireError(str(exc))])

    def _start(self, msg: dict[str, Any]) -> Start:
        start = self._obj(msg, "start")
        params = start.get("customParameters") or {}
        if not isinstance(params, dict):
            raise ProtocolError("start.customParameters must be an object")
        fmt = start.get("mediaFormat") or {}
        if not isinstance(fmt, dict):
            raise ProtocolError("start.mediaFormat must be an object")
        rate = fmt.get("sampleRate", RATE)
        if fmt and (fmt.get("encoding") not in (None, "audio/x-mulaw") or rate not in (RATE, str(RATE))):
            raise ProtocolError(f"unsupported media format {preview(fmt, 80)}; expected audio/x-mulaw 8000 Hz")
        sid = msg.get("streamSid")
        stream_sid = start.get("streamSid") or (sid if isinstance(sid, str) else None)
        call_sid = start.get("callSid")
        self.stream_sid = str(stream_sid) if stream_sid else None
        self.call_sid = str(call_sid) if call_sid else None
        info = {
            "call_sid": self.call_sid,
            "stream_sid": self.stream_sid,
            "account_sid": start.get("accountSid"),
            "custom": {str(k): str(v) for k, v in params.items()},
        }
        call_id = params.get("call_id")
        return Start(call_id=str(call_id) if call_id else None, params=info)

    def _items(self, event: str, msg: dict[str, Any]) -> list[InboundEvent]:
        if event == "media":
            media = self._obj(msg, "media")
            if media.get("track", "inbound") not in ("inbound", "inbound_track"):
                return []  # outbound-track echo (unidirectional forks); not callee audio
            payload = media.get("payload")
            if not isinstance(payload, str):
                raise ProtocolError("media message without a base64 'payload'")
            if len(payload) > MAX_MEDIA_BYTES * 4 // 3 + 4:
                raise ProtocolError(f"media payload of {len(payload)} base64 chars is over 1 s of audio")
            try:
                data = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise ProtocolError(f"media payload is not valid base64: {preview(payload)}") from None
            if not data:
                raise ProtocolError("media message with an empty payload")
            return [AudioIn(pcm=ulaw_decode(data), sample_rate=RATE)]
        if event == "dtmf":
            digit = self._obj(msg, "dtmf").get("digit")
            if not isinstance(digit, str) or digit not in DTMF_KEYS:
                raise ProtocolError(f"dtmf digit {preview(digit)} is not one of 0-9 * # A-D")
            return [DtmfIn(digit=digit)]
        if event == "mark":
            name = self._obj(msg, "mark").get("name")
            if not isinstance(name, str):
                raise ProtocolError("mark message without a 'name' string")
            return [MarkPlayed(name=name)]
        if event == "stop":
            stop = msg.get("stop")
            if isinstance(stop, dict) and isinstance(stop.get("callSid"), str):
                self.call_sid = self.call_sid or stop["callSid"]
            return [Hangup(reason="hangup")]
        return []  # unknown future events carry nothing for us

    @staticmethod
    def _seq(value: Any) -> int | None:
        if value is None:
            return None
        text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
        if text.isascii() and text.isdigit() and len(text) < 19:
            return int(text)
        raise ProtocolError(f"sequenceNumber {preview(value)} is not a number")

    @staticmethod
    def _obj(msg: dict[str, Any], key: str) -> dict[str, Any]:
        value = msg.get(key)
        if not isinstance(value, dict):
            raise ProtocolError(f"'{preview(msg.get('event'))}' message without a '{key}' object")
        return value

    # --- outbound ---------------------------------------------------------------------------
    def serialize(self, event: OutboundEvent) -> str | None:
        """Media, mark and clear; None before `start` (no stream sid) and for what Twilio's stream
        cannot say (hang-up and transfer go through the REST API; errors through the close code)."""
        sid = self.stream_sid
        if sid is None:
            return None
        if isinstance(event, AudioOut):
            ulaw = ulaw_encode(np.frombuffer(pcm_frame(event.pcm), dtype="<i2"))
            payload = base64.b64encode(ulaw).decode("ascii")
            return json.dumps({"event": "media", "streamSid": sid, "media": {"payload": payload}})
        if isinstance(event, MarkOut):
            return json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": event.name}})
        if isinstance(event, ClearOut):
            return json.dumps({"event": "clear", "streamSid": sid})
        return None

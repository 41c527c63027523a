"""The browser softphone's websocket: text JSON and binary PCM ⇄ events.

All audio is PCM 16-bit little-endian mono 16 kHz.
  page -> server   text    {"type": "start", "account_id": "...", "script_id": "..."}  (first; read by the app)
                   binary  microphone audio, any length (20 ms = 640 bytes is typical)
                   text    {"type": "dtmf", "digit": "1"} | {"type": "hangup"}
  server -> page   binary  agent audio, 20 ms frames paced in real time (AudioOut)
                   text    {"type": "clear"} (ClearOut) | {"type": "transfer", "target"} (TransferOut)
                   text    {"type": "error", "message"} (ErrorOut)
                   text    {"type": "call" | "turn" | "ended", …} (PageMessage: the app's own messages)

Per call: a binary message of an odd length leaves its last byte for the next one.
Bad input: text that is not a JSON object with a string `type` is fatal (this is not our page).
A message of an unknown type, a DTMF key that is not 0-9 * #, or a second `start` is dropped on its
own; so is more than 1 s of audio in one binary message.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from telephony_adapter.base import AudioIn, DtmfIn, Hangup, Start
from telephony_adapter.serializers.base import (
    AudioOut,
    ClearOut,
    ErrorOut,
    InboundEvent,
    OutboundEvent,
    TransferOut,
    WireError,
    pcm_frame,
    preview,
)

RATE = 16000
PAGE_KEYS = frozenset("0123456789*#")  # the page's keypad
MAX_AUDIO_BYTES = RATE * 2  # 1 s in one message


@dataclass
class PageMessage:
    """A message of the app's for the page (call id, turns, the outcome): sent as JSON text."""

    payload: dict[str, Any] = field(default_factory=dict)


class BrowserSerializer:
    """One softphone call's serializer (see the module docstring)."""

    network = "browser"
    wire_rate = RATE

    def __init__(self) -> None:
        self._odd = b""

    def deserialize(self, wire: str | bytes) -> list[InboundEvent]:
        if isinstance(wire, (bytes, bytearray, memoryview)):
            return self._audio(bytes(wire))
        return self._text(wire)

    def _audio(self, data: bytes) -> list[InboundEvent]:
        if len(data) > MAX_AUDIO_BYTES:
            return [WireError(f"binary message of {len(data)} bytes is over 1 s of 16 kHz audio")]
        data = self._odd + data
        cut = len(data) // 2 * 2
        self._odd = data[cut:]
        if not cut:
            return []
        return [AudioIn(pcm=np.frombuffer(data[:cut], dtype="<i2").astype(np.int16), sample_rate=RATE)]

    def _text(self, raw: str) -> list[InboundEvent]:
        try:
            msg = json.loads(raw)
        except (ValueError, RecursionError, TypeError):
            return [WireError(f"softphone sent text that is not JSON: {preview(raw)}", fatal=True)]
        kind = msg.get("type") if isinstance(msg, dict) else None
        if not isinstance(kind, str):
            return [WireError("softphone message is not a JSON object with a 'type' string", fatal=True)]
        if kind == "dtmf":
            digit = msg.get("digit")
            if not isinstance(digit, str) or digit not in PAGE_KEYS:
                return [WireError(f"dtmf digit {preview(digit)} is not one of 0-9 * #")]
            return [DtmfIn(digit)]
        if kind == "hangup":
            return [Hangup(reason="hangup")]
        if kind == "start":
            return [self.start(msg)]
        return [WireError(f"unknown softphone message type {preview(kind)}")]

    @staticmethod
    def start(msg: dict[str, Any]) -> Start:
        """The page's first message: which account and script to call (the app creates the call)."""
        return Start(call_id=None, params={"account_id": str(msg.get("account_id", "")),
                                           "script_id": str(msg.get("script_id", ""))})

    def serialize(self, event: OutboundEvent | PageMessage) -> str | bytes | None:
        if isinstance(event, AudioOut):
            return pcm_frame(event.pcm)
        if isinstance(event, ClearOut):
            return json.dumps({"type": "clear"})
        if isinstance(event, TransferOut):
            return json.dumps({"type": "transfer", "target": event.target})
        if isinstance(event, ErrorOut):
            return json.dumps({"type": "error", "message": event.message}, ensure_ascii=False)
        if isinstance(event, PageMessage):
            return json.dumps(event.payload, ensure_ascii=False)
        return None  # marks are local; a hang-up is the socket's close

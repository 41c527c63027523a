"""The callee on a Twilio-protocol test carrier: Twilio's side of one bidirectional Media Stream.

It opens the (signed) websocket, sends `connected` and `start`, then one 20 ms μ-law `media`
frame every 20 ms for the whole call (silence when the callee is quiet), like Twilio does. It
plays the agent's audio out of its own buffer in real time, echoes each mark once the audio
before it has played, and on `clear` drops the buffer and echoes the pending marks at once.

What the callee says and when, and the voice-to-voice latency it hears, are protocol-free and
shared with the SIP carrier: `callee_turns.CalleeTurns` (the callee waits for an empty play-out
buffer here before it speaks again).
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections import deque
from pathlib import Path
from typing import Any

from telephony_adapter.sim.callee_turns import (
    FRAME_BYTES,
    FRAME_S,
    OVERLAP_S,
    SILENCE,
    VOICED_RMS,
    VOICES_DIR,
    CalleeTurns,
    CallerBehaviour,
    CallerReport,
    frame_rms,
    load_clip,
    speech_end,
)

log = logging.getLogger(__name__)

__all__ = ["FRAME_BYTES", "FRAME_S", "OVERLAP_S", "SILENCE", "VOICED_RMS", "VOICES_DIR", "CallerBehaviour",
           "CallerReport", "StreamCaller", "frame_rms", "load_clip", "speech_end"]


class StreamCaller:
    def __init__(self, url: str, headers: dict[str, str], *, account_sid: str, call_sid: str, stream_sid: str,
                 params: dict[str, str], behaviour: CallerBehaviour, voices_dir: Path = VOICES_DIR) -> None:
        self.url, self.headers = url, headers
        self.account_sid, self.call_sid, self.stream_sid = account_sid, call_sid, stream_sid
        self.params = params
        self.behaviour = behaviour
        self._playout: deque[tuple[str, Any]] = deque()  # ("audio", bytes) | ("mark", name)
        self.turns = CalleeTurns(behaviour, voices_dir, encoding="ulaw",
                                 pending_audio=lambda: any(k == "audio" for k, _ in self._playout))
        self.items = self.turns.items
        self.report = self.turns.report
        self.heard = self.turns.heard
        self._ws: Any = None
        self._seq = 0
        self._chunk = 0
        self._stop_reason: str | None = None  # set by hang_up(): the carrier ends the call
        self._agent_gone = False

    # --- control -------------------------------------------------------------------------------
    def hang_up(self, reason: str = "carrier") -> None:
        """End the stream from the carrier's side (REST hang-up, redirect): stop, then close."""
        self._stop_reason = self._stop_reason or reason

    async def run(self) -> CallerReport:
        import websockets

        try:
            async with websockets.connect(self.url, additional_headers=self.headers, open_timeout=10,
                                          max_queue=None, ping_interval=None) as ws:
                self._ws = ws
                await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"}, seq=False)
                await self._send({"event": "start", "streamSid": self.stream_sid, "start": {
                    "streamSid": self.stream_sid, "accountSid": self.account_sid, "callSid": self.call_sid,
                    "tracks": ["inbound"], "customParameters": self.params,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
                self.turns.begin(time.monotonic())
                reader = asyncio.create_task(self._reader())
                try:
                    await self._tick_loop()
                finally:
                    reader.cancel()
                    await asyncio.gather(reader, return_exceptions=True)
        except Exception as exc:  # refused handshake, reset socket: the report says so
            if not self.report.ended_by:
                self.report.ended_by, self.report.error = "error", f"{type(exc).__name__}: {exc}"
        return self.report

    # --- the wire ------------------------------------------------------------------------------
    async def _send(self, msg: dict[str, Any], seq: bool = True) -> None:
        if seq:
            self._seq += 1
            msg["sequenceNumber"] = str(self._seq)
        await self._ws.send(json.dumps(msg))

    async def _reader(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self._ws:
                msg = json.loads(raw)
                kind = msg.get("event")
                if msg.get("streamSid") != self.stream_sid:
                    log.warning("stream %s: message for stream %r", self.stream_sid, msg.get("streamSid"))
                    continue
                if kind == "media":
                    self.report.media_in += 1
                    self._playout.append(("audio", base64.b64decode(msg["media"]["payload"])))
                elif kind == "mark":
                    self._playout.append(("mark", msg["mark"]["name"]))
                elif kind == "clear":
                    self.report.clears += 1
                    pending = [v for k, v in self._playout if k == "mark"]
                    self._playout.clear()
                    for name in pending:  # Twilio echoes the dropped marks at once
                        await self._echo(name)
        except ConnectionClosed:
            pass
        self._agent_gone = True

    async def _echo(self, name: str) -> None:
        self.report.marks_echoed.append(name)
        try:
            await self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})
        except Exception:
            pass

    # --- real time -----------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        t0 = time.monotonic()
        n = 0
        while True:
            now = time.monotonic()
            if self._agent_gone:
                self.report.ended_by = self.report.ended_by or "agent"
                return
            if self._stop_reason is not None or self.turns.done(now):
                await self._hang_up(self._stop_reason or "caller")
                return
            await self._play(now)
            payload, dtmf = self.turns.talk(now)
            if dtmf:
                await self._send({"event": "dtmf", "streamSid": self.stream_sid,
                                  "dtmf": {"track": "inbound_track", "digit": dtmf}})
            self._chunk += 1
            try:
                await self._send({"event": "media", "streamSid": self.stream_sid, "media": {
                    "track": "inbound", "chunk": str(self._chunk), "timestamp": str((self._chunk - 1) * 20),
                    "payload": base64.b64encode(payload).decode("ascii")}})
            except Exception:
                self._agent_gone = True
                continue
            self.report.frames_sent += 1
            n += 1
            lag = time.monotonic() - (t0 + n * FRAME_S)
            self.report.max_send_lag_ms = max(self.report.max_send_lag_ms, round(lag * 1000, 1))
            if lag < 0:
                await asyncio.sleep(-lag)

    async def _hang_up(self, reason: str) -> None:
        self.report.ended_by = reason
        try:
            await self._send({"event": "stop", "streamSid": self.stream_sid,
                              "stop": {"accountSid": self.account_sid, "callSid": self.call_sid}})
            await self._ws.close()
        except Exception:
            pass

    async def _play(self, now: float) -> None:
        """One 20 ms tick of play-out: marks whose audio has played are echoed, then up to 160 bytes play."""
        while self._playout and self._playout[0][0] == "mark":
            await self._echo(self._playout.popleft()[1])
        need, frame = FRAME_BYTES, bytearray()
        while need and self._playout and self._playout[0][0] == "audio":
            data = self._playout.popleft()[1]
            frame += data[:need]
            if len(data) > need:
                self._playout.appendleft(("audio", data[need:]))
            need = FRAME_BYTES - len(frame)
        if frame:
            self.turns.hear(bytes(frame), now)


"""Shared pieces for the telephony conformance tests (tests/telephony/test_tel_*.py).

- `EchoSession`: a tiny stand-in for CallSession used to test transports in isolation
  (greets, answers DTMF, barges in on loud audio, hangs up on '#', transfers on '0').
- `TwilioPeer`: a Media Streams client written from Twilio's message documentation, with a
  real-time play-out buffer that echoes marks when their audio has played (and on clear).
- `serve_app`: a real uvicorn server on a free port in a background thread.
"""
from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from speech.audio import ulaw_decode, ulaw_encode
from telephony_adapter.base import AudioIn, DtmfIn, Hangup, MarkPlayed, Start
from tests.ports import free_port as free_port  # re-exported: the tests import it from here

RESULTS: dict[str, EchoRecord] = {}


def tone(freq: float, seconds: float, rate: int, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * amp * 32767).astype(np.int16)


@dataclass
class EchoRecord:
    call_id: str
    events: list[str] = field(default_factory=list)
    digits: list[str] = field(default_factory=list)
    marks_sent: list[str] = field(default_factory=list)
    marks_played: list[str] = field(default_factory=list)
    audio_in_s: float = 0.0
    barge_ins: int = 0
    hangup: Hangup | None = None
    transferred: bool | None = None
    done: asyncio.Event | None = None


async def echo_runner(call_id: str, transport: Any) -> EchoRecord:
    """Speak 3 x 0.4 s chunks (marks m1..m3); each DTMF digit d in 1-9 -> d x 0.1 s tone + mark."""
    rec = RESULTS[call_id] = EchoRecord(call_id)
    rate = 16000
    unplayed: set[str] = set()
    loud_frames = 0

    async def say(name: str, seconds: float, freq: float = 440.0) -> None:
        await transport.send_audio(tone(freq, seconds, rate), rate)
        await transport.mark(name)
        rec.marks_sent.append(name)
        unplayed.add(name)

    for i in range(1, 4):
        await say(f"greet{i}", 0.4)
    while True:
        ev = await transport.receive()
        if isinstance(ev, Start):
            rec.events.append("start")
        elif isinstance(ev, AudioIn):
            rec.audio_in_s += len(ev.pcm) / ev.sample_rate
            level = float(np.abs(ev.pcm.astype(np.int32)).mean()) if len(ev.pcm) else 0.0
            loud_frames = loud_frames + 1 if level > 3000 else 0
            if loud_frames == 3 and unplayed:  # 60 ms of loud speech over agent audio: barge in
                rec.barge_ins += 1
                await transport.clear()
                unplayed.clear()
        elif isinstance(ev, MarkPlayed):
            rec.marks_played.append(ev.name)
            unplayed.discard(ev.name)
        elif isinstance(ev, DtmfIn):
            rec.digits.append(ev.digit)
            if ev.digit == "#":
                await transport.hangup("completed")
            elif ev.digit == "0":
                rec.transferred = await transport.transfer(None)
            elif ev.digit.isdigit():
                await say(f"dtmf{len(rec.digits)}", 0.1 * int(ev.digit), 880.0)
        elif isinstance(ev, Hangup):
            rec.hangup = ev
            return rec


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1:port in a daemon thread."""

    def __init__(self, app: Any, port: int) -> None:
        import uvicorn

        self.port = port
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


# ---------------------------------------------------------------------------------------------
# a Twilio Media Streams peer, from the protocol documentation
# ---------------------------------------------------------------------------------------------
class TwilioPeer:
    """Plays Twilio's side of a bidirectional <Connect><Stream>."""

    def __init__(self, ws: Any, call_id: str, stream_sid: str = "MZ00000000000000000000000000000001") -> None:
        self.ws = ws
        self.call_id = call_id
        self.stream_sid = stream_sid
        self.call_sid = "CA00000000000000000000000000000001"
        self.seq = 0
        self.chunk = 0
        self.received: list[tuple[float, dict]] = []  # (arrival monotonic, message)
        self.media_bytes = 0
        self.playout: list[Any] = []  # queued μ-law bytes and ("mark", name)
        self.heard = bytearray()  # what the callee "heard", in order
        self.marks_echoed: list[str] = []
        self.clears = 0
        self.closed: tuple[int | None, str] | None = None
        self._tasks: list[asyncio.Task] = []

    def _next_seq(self) -> str:
        self.seq += 1
        return str(self.seq)

    async def send(self, msg: dict) -> None:
        await self.ws.send(json.dumps(msg))

    async def connect_and_start(self, params: dict[str, str] | None = None) -> None:
        await self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send(self.start_msg(params))
        self._tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._player())]

    def start_msg(self, params: dict[str, str] | None = None) -> dict:
        return {
            "event": "start",
            "sequenceNumber": self._next_seq(),
            "start": {
                "accountSid": "AC00000000000000000000000000000001",
                "streamSid": self.stream_sid,
                "callSid": self.call_sid,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": params if params is not None else {"call_id": self.call_id},
            },
            "streamSid": self.stream_sid,
        }

    def media_msg(self, pcm8k: np.ndarray, seq: str | None = None) -> dict:
        self.chunk += 1
        return {
            "event": "media",
            "sequenceNumber": seq or self._next_seq(),
            "media": {
                "track": "inbound",
                "chunk": str(self.chunk),
                "timestamp": str(self.chunk * 20),
                "payload": base64.b64encode(ulaw_encode(pcm8k)).decode(),
            },
            "streamSid": self.stream_sid,
        }

    async def stream_audio(self, pcm8k: np.ndarray, realtime: bool = True) -> None:
        for i in range(0, len(pcm8k) - 159, 160):
            await self.send(self.media_msg(pcm8k[i : i + 160]))
            if realtime:
                await asyncio.sleep(0.02)

    async def dtmf(self, digit: str) -> None:
        await self.send({"event": "dtmf", "streamSid": self.stream_sid, "sequenceNumber": self._next_seq(),
                         "dtmf": {"track": "inbound_track", "digit": digit}})

    async def stop(self) -> None:
        await self.send({"event": "stop", "sequenceNumber": self._next_seq(), "streamSid": self.stream_sid,
                         "stop": {"accountSid": "AC00000000000000000000000000000001", "callSid": self.call_sid}})

    async def _reader(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                self.received.append((time.monotonic(), msg))
                kind = msg.get("event")
                if kind == "media":
                    data = base64.b64decode(msg["media"]["payload"])
                    self.media_bytes += len(data)
                    self.playout.append(data)
                elif kind == "mark":
                    self.playout.append(("mark", msg["mark"]["name"]))
                elif kind == "clear":
                    self.clears += 1
                    pending = [item[1] for item in self.playout if isinstance(item, tuple)]
                    self.playout.clear()
                    for name in pending:  # Twilio answers the dropped marks at once
                        await self._echo_mark(name)
        except ConnectionClosed as exc:
            self.closed = (exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else "")
        else:
            rcvd = getattr(self.ws, "close_code", None)
            self.closed = (rcvd, getattr(self.ws, "close_reason", "") or "")

    async def _echo_mark(self, name: str) -> None:
        self.marks_echoed.append(name)
        try:
            await self.send({"event": "mark", "sequenceNumber": self._next_seq(), "streamSid": self.stream_sid,
                             "mark": {"name": name}})
        except Exception:
            pass

    async def _player(self) -> None:
        """Consume the play-out buffer in real time: 160 bytes every 20 ms."""
        t = time.monotonic()
        while True:
            if self.playout and isinstance(self.playout[0], tuple):
                await self._echo_mark(self.playout.pop(0)[1])
                continue
            if self.playout:
                data = self.playout.pop(0)
                self.heard += data
                t = max(t, time.monotonic()) + len(data) / 8000
                await asyncio.sleep(max(0.0, t - time.monotonic()))
            else:
                await asyncio.sleep(0.005)

    def heard_pcm(self) -> np.ndarray:
        return ulaw_decode(bytes(self.heard))

    def events(self, kind: str) -> list[dict]:
        return [m for _, m in self.received if m.get("event") == kind]

    async def wait_closed(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.closed is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def finish(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

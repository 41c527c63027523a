"""The callee on a Twilio-protocol test carrier: Twilio's side of one bidirectional Media Stream.

It opens the (signed) websocket, sends `connected` and `start`, then one 20 ms μ-law `media`
frame every 20 ms for the whole call (silence when the callee is quiet), like Twilio does. It
plays the agent's audio out of its own buffer in real time, echoes each mark once the audio
before it has played, and on `clear` drops the buffer and echoes the pending marks at once.

The callee speaks a list of recorded clips: each one after the agent has finished speaking
(played voiced audio, then `end_of_prompt_s` of silence with an empty buffer) and a short human
pause. Voice-to-voice latency is measured as the callee hears it: from the end of the words in
each clip (its last voiced frame, not the recording's trailing silence) to the first voiced agent
frame played after it.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

FRAME_S = 0.02
FRAME_BYTES = 160  # 20 ms of μ-law at 8 kHz
SILENCE = b"\xff" * FRAME_BYTES  # μ-law zero
OVERLAP_S = 0.1  # agent speech heard this close to a clip's end: the two overlapped
VOICED_RMS = 300.0  # int16 RMS above which a played frame counts as agent speech
VOICES_DIR = Path(__file__).resolve().parent / "voices"


@lru_cache(maxsize=1)
def _ulaw_table() -> np.ndarray:
    from speech.audio import ulaw_decode

    return ulaw_decode(bytes(range(256))).astype(np.float64)


def frame_rms(ulaw: bytes) -> float:
    if not ulaw:
        return 0.0
    pcm = _ulaw_table()[np.frombuffer(ulaw, dtype=np.uint8)]
    return float(np.sqrt(np.mean(pcm * pcm)))


@lru_cache(maxsize=256)
def load_clip(path: str) -> bytes:
    """A recorded clip as 8 kHz μ-law bytes, padded to whole 20 ms frames."""
    from speech.audio import read_audio, to_int16, ulaw_encode

    pcm = to_int16(read_audio(path, target_rate=8000)[0])
    data = ulaw_encode(pcm)
    return data + SILENCE[: (-len(data)) % FRAME_BYTES]


def speech_end(data: bytes) -> int:
    """Byte offset where the clip's speech ends (after its last voiced frame); recordings carry
    about half a second of silence after the words, which is not part of the callee's turn."""
    last = 0
    for off in range(0, len(data), FRAME_BYTES):
        if frame_rms(data[off: off + FRAME_BYTES]) > VOICED_RMS:
            last = off + FRAME_BYTES
    return last or len(data)


@dataclass
class CallerBehaviour:
    """How the callee behaves once connected. `clips`: WAV names in sim/voices (or paths),
    {"dtmf": "5"}, or {"wait_s": 1.5} (keep quiet a while, then go on)."""

    clips: list[Any] = field(default_factory=list)
    end_of_prompt_s: float = 0.7
    human_delay_s: float = 0.3
    reply_timeout_s: float = 12.0  # no agent speech this long after a clip: go on anyway
    hang_up_at_end: bool = True  # after the last clip and the agent's reply

    def items(self, voices_dir: Path = VOICES_DIR) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for item in self.clips:
            if isinstance(item, dict) and "dtmf" in item:
                out.append(("dtmf", str(item["dtmf"])))
            elif isinstance(item, dict) and "wait_s" in item:
                out.append(("wait", float(item["wait_s"])))
            else:
                path = Path(str(item))
                out.append(("clip", (path if path.is_absolute() else voices_dir / path, load_clip(
                    str(path if path.is_absolute() else voices_dir / path)))))
        return out


@dataclass
class CallerReport:
    v2v_ms: list[float] = field(default_factory=list)  # per callee turn, as heard
    greeting_ms: float | None = None  # stream start sent -> the agent's first voiced audio played
    clips_played: list[str] = field(default_factory=list)
    no_reply: int = 0  # clips the agent never answered within reply_timeout_s
    overlaps: int = 0  # clips that ended while the agent was talking: no latency to measure
    marks_echoed: list[str] = field(default_factory=list)
    clears: int = 0
    media_in: int = 0  # agent media messages received
    heard_s: float = 0.0
    voiced_s: float = 0.0
    frames_sent: int = 0
    max_send_lag_ms: float = 0.0
    ended_by: str = ""  # caller | agent | carrier | error
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class StreamCaller:
    def __init__(self, url: str, headers: dict[str, str], *, account_sid: str, call_sid: str, stream_sid: str,
                 params: dict[str, str], behaviour: CallerBehaviour, voices_dir: Path = VOICES_DIR) -> None:
        self.url, self.headers = url, headers
        self.account_sid, self.call_sid, self.stream_sid = account_sid, call_sid, stream_sid
        self.params = params
        self.behaviour = behaviour
        self.items = behaviour.items(voices_dir)
        self.report = CallerReport()
        self.heard = bytearray()
        self._ws: Any = None
        self._seq = 0
        self._chunk = 0
        self._playout: deque[tuple[str, Any]] = deque()  # ("audio", bytes) | ("mark", name)
        self._stop_reason: str | None = None  # set by hang_up(): the carrier ends the call
        self._agent_gone = False
        # the callee's turn-taking
        self._next_item = 0
        self._speaking: tuple[str, bytes, int] | None = None  # (name, data, offset)
        self._speech_end = 0  # byte offset where the words of the clip being spoken end
        self._voiced_since_turn = False
        self._last_voiced = 0.0
        self._turn_end: float | None = None  # when our last clip ended
        self._start_at: float | None = None  # when the human pause before the next item ends
        self._listen_since = 0.0
        self._started: float | None = None

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
                self._started = time.monotonic()
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
        self._listen_since = t0
        n = 0
        while True:
            now = time.monotonic()
            if self._agent_gone:
                self.report.ended_by = self.report.ended_by or "agent"
                return
            if self._stop_reason is not None or self._done(now):
                await self._hang_up(self._stop_reason or "caller")
                return
            await self._play(now)
            payload, dtmf = self._talk(now)
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
        if not frame:
            return
        self.heard += frame
        self.report.heard_s += len(frame) / 8000
        if frame_rms(bytes(frame)) > VOICED_RMS:
            self.report.voiced_s += len(frame) / 8000
            self._voiced_since_turn = True
            self._last_voiced = now
            if self.report.greeting_ms is None and self._started is not None:
                self.report.greeting_ms = round((now - self._started) * 1000, 1)
            if self._turn_end is not None:  # the first agent speech heard after our clip
                self.report.v2v_ms.append(round((now - self._turn_end) * 1000, 1))
                self._turn_end = None

    def _agent_done(self, now: float) -> bool:
        quiet = now - self._last_voiced >= self.behaviour.end_of_prompt_s
        return self._voiced_since_turn and quiet and not any(k == "audio" for k, _ in self._playout)

    def _done(self, now: float) -> bool:
        if self._next_item < len(self.items) or self._speaking or self._start_at is not None:
            return False
        if not self.behaviour.hang_up_at_end:
            return False
        if self._agent_done(now):
            return True
        if now - self._listen_since > self.behaviour.reply_timeout_s:
            if self._turn_end is not None:
                self.report.no_reply += 1
            return True
        return False

    def _talk(self, now: float) -> tuple[bytes, str | None]:
        """The callee's next 20 ms: a slice of the clip being spoken, or silence; maybe a DTMF digit."""
        if self._speaking is not None:
            name, data, off = self._speaking
            frame = data[off: off + FRAME_BYTES]
            if off + FRAME_BYTES == self._speech_end:  # the last voiced frame: the turn ends 20 ms from now
                self._turn_end = now + FRAME_S
                if now - self._last_voiced < OVERLAP_S:  # the agent is talking over our words' end
                    self.report.overlaps += 1
                    self._turn_end = None
                self._voiced_since_turn = False
            if off + FRAME_BYTES >= len(data):
                self._speaking = None
                self._listen_since = now
            else:
                self._speaking = (name, data, off + FRAME_BYTES)
            return frame, None
        if self._start_at is not None:
            if now < self._start_at:
                return SILENCE, None
            self._start_at = None
            return self._begin_item(now)
        if self._next_item < len(self.items):
            waited = now - self._listen_since
            if self._agent_done(now) or waited > self.behaviour.reply_timeout_s:
                if not self._voiced_since_turn and self._turn_end is not None:
                    self.report.no_reply += 1
                    self._turn_end = None
                self._start_at = now + self.behaviour.human_delay_s
        return SILENCE, None

    def _begin_item(self, now: float) -> tuple[bytes, str | None]:
        if self._next_item >= len(self.items):  # a trailing wait has passed
            return SILENCE, None
        kind, value = self.items[self._next_item]
        self._next_item += 1
        self._voiced_since_turn = False
        self._listen_since = now
        if kind == "dtmf":
            self._turn_end = now
            return SILENCE, value
        if kind == "wait":  # keep quiet, then go straight on to the next item
            self._start_at = now + value
            return SILENCE, None
        path, data = value
        self.report.clips_played.append(Path(path).name)
        self._speaking = (Path(path).name, data, 0)
        self._speech_end = speech_end(data)
        self._turn_end = None
        return self._talk(now)

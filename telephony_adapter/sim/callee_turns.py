"""The recorded callee of the test carriers, without any protocol: what it says every 20 ms, what it
hears, and the latency it measures. The Twilio-protocol carrier (carrier_caller.StreamCaller) and the
SIP carrier (sip_carrier.py) each drive one `CalleeTurns` per answered call from their own clock.

The callee speaks a list of recorded clips: each one after the agent has finished speaking (played
voiced audio, then `end_of_prompt_s` of silence with nothing left to play) and a short human pause.
Voice-to-voice latency is measured as the callee hears it: from the end of the words in each clip
(its last voiced frame, not the recording's trailing silence) to the first voiced agent frame played
after it. Both carriers play the same samples: the 8 kHz μ-law rendering of each recording (the SIP
carrier decodes it to PCM, and PJSIP encodes that again for the wire).

Frames are 20 ms of 8 kHz audio in the carrier's encoding: "ulaw" (160 bytes, Twilio Media Streams)
or "pcm16" (320 bytes of little-endian int16, a PJSIP media port).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

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


def pcm_rms(pcm: bytes) -> float:
    if not pcm:
        return 0.0
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(x * x)))


@lru_cache(maxsize=256)
def load_clip(path: str) -> bytes:
    """A recorded clip as 8 kHz μ-law bytes, padded to whole 20 ms frames."""
    from speech.audio import read_audio, to_int16, ulaw_encode

    pcm = to_int16(read_audio(path, target_rate=8000)[0])
    data = ulaw_encode(pcm)
    return data + SILENCE[: (-len(data)) % FRAME_BYTES]


@lru_cache(maxsize=256)
def load_clip_pcm(path: str) -> bytes:
    """The same clip as `load_clip`, decoded to 16-bit PCM (the same samples on both carriers)."""
    return _ulaw_table()[np.frombuffer(load_clip(path), dtype=np.uint8)].astype("<i2").tobytes()


@dataclass(frozen=True)
class Encoding:
    name: str
    frame_bytes: int
    silence: bytes
    rms: Callable[[bytes], float]
    load: Callable[[str], bytes]


ENCODINGS = {
    "ulaw": Encoding("ulaw", FRAME_BYTES, SILENCE, frame_rms, load_clip),
    "pcm16": Encoding("pcm16", 2 * FRAME_BYTES, bytes(2 * FRAME_BYTES), pcm_rms, load_clip_pcm),
}


@lru_cache(maxsize=256)
def speech_end(data: bytes, encoding: str = "ulaw") -> int:
    """Byte offset where the clip's speech ends (after its last voiced frame); recordings carry
    about half a second of silence after the words, which is not part of the callee's turn."""
    enc = ENCODINGS[encoding]
    last = 0
    for off in range(0, len(data), enc.frame_bytes):
        if enc.rms(data[off: off + enc.frame_bytes]) > VOICED_RMS:
            last = off + enc.frame_bytes
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

    def items(self, voices_dir: Path = VOICES_DIR, encoding: str = "ulaw") -> list[tuple[str, Any]]:
        load = ENCODINGS[encoding].load
        out: list[tuple[str, Any]] = []
        for item in self.clips:
            if isinstance(item, dict) and "dtmf" in item:
                out.append(("dtmf", str(item["dtmf"])))
            elif isinstance(item, dict) and "wait_s" in item:
                out.append(("wait", float(item["wait_s"])))
            else:
                path = Path(str(item))
                full = path if path.is_absolute() else voices_dir / path
                out.append(("clip", (full, load(str(full)))))
        return out


@dataclass
class CallerReport:
    v2v_ms: list[float] = field(default_factory=list)  # per callee turn, as heard
    greeting_ms: float | None = None  # call connected (stream start / answer) -> the agent's first voiced audio
    clips_played: list[str] = field(default_factory=list)
    no_reply: int = 0  # clips the agent never answered within reply_timeout_s
    overlaps: int = 0  # clips that ended while the agent was talking: no latency to measure
    marks_echoed: list[str] = field(default_factory=list)
    clears: int = 0
    media_in: int = 0  # agent media messages (or frames) received
    heard_s: float = 0.0
    voiced_s: float = 0.0
    frames_sent: int = 0
    max_send_lag_ms: float = 0.0
    ended_by: str = ""  # caller | agent | carrier | error
    error: str | None = None
    # time.monotonic() (one clock for every process of the host) of each measured turn's end and of the agent
    # speech heard after it, to line the callee's view up with the agent's own timestamps
    turn_end_at: list[float] = field(default_factory=list)
    reply_heard_at: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class CalleeTurns:
    """One callee's turn-taking, driven every 20 ms by its carrier: `talk(now)` gives the frame it says
    (and maybe a DTMF digit), `hear(frame, now)` takes a frame of agent audio as it is played to it,
    `done(now)` says when it hangs up. `pending_audio` tells whether agent audio is still waiting to be
    played (a carrier's own play-out buffer); PJSIP's jitter buffer plays it itself: never pending."""

    def __init__(self, behaviour: CallerBehaviour, voices_dir: Path = VOICES_DIR, *, encoding: str = "ulaw",
                 pending_audio: Callable[[], bool] | None = None) -> None:
        self.behaviour = behaviour
        self.enc = ENCODINGS[encoding]
        self.items = behaviour.items(voices_dir, encoding)
        self.report = CallerReport()
        self.heard = bytearray()
        self.pending_audio = pending_audio or (lambda: False)
        self.started: float | None = None
        self._next_item = 0
        self._speaking: tuple[str, bytes, int] | None = None  # (name, data, offset)
        self._speech_end = 0  # byte offset where the words of the clip being spoken end
        self._voiced_since_turn = False
        self._last_voiced = 0.0
        self._turn_end: float | None = None  # when our last clip ended
        self._start_at: float | None = None  # when the human pause before the next item ends
        self._listen_since = 0.0

    def begin(self, now: float) -> None:
        """The call is connected: the greeting is timed from here."""
        self.started = self._listen_since = now

    # --- what the callee hears ------------------------------------------------------------------
    def hear(self, frame: bytes, now: float) -> None:
        if not frame:
            return
        self.heard += frame
        seconds = len(frame) / self.enc.frame_bytes * FRAME_S
        self.report.heard_s += seconds
        if self.enc.rms(frame) > VOICED_RMS:
            self.report.voiced_s += seconds
            self._voiced_since_turn = True
            self._last_voiced = now
            if self.report.greeting_ms is None and self.started is not None:
                self.report.greeting_ms = round((now - self.started) * 1000, 1)
            if self._turn_end is not None:  # the first agent speech heard after our clip
                self.report.v2v_ms.append(round((now - self._turn_end) * 1000, 1))
                self.report.turn_end_at.append(round(self._turn_end, 4))
                self.report.reply_heard_at.append(round(now, 4))
                self._turn_end = None

    def agent_done(self, now: float) -> bool:
        quiet = now - self._last_voiced >= self.behaviour.end_of_prompt_s
        return self._voiced_since_turn and quiet and not self.pending_audio()

    def done(self, now: float) -> bool:
        if self._next_item < len(self.items) or self._speaking or self._start_at is not None:
            return False
        if not self.behaviour.hang_up_at_end:
            return False
        if self.agent_done(now):
            return True
        if now - self._listen_since > self.behaviour.reply_timeout_s:
            if self._turn_end is not None:
                self.report.no_reply += 1
            return True
        return False

    # --- what the callee says ---------------------------------------------------------------------
    def talk(self, now: float) -> tuple[bytes, str | None]:
        """The callee's next 20 ms: a slice of the clip being spoken, or silence; maybe a DTMF digit."""
        fb = self.enc.frame_bytes
        if self._speaking is not None:
            name, data, off = self._speaking
            frame = data[off: off + fb]
            if off + fb == self._speech_end:  # the last voiced frame leaves now, once it has been said: the turn ends
                self._turn_end = now  # (a phone sends 20 ms of audio after it was spoken, never before)
                if now - self._last_voiced < OVERLAP_S:  # the agent is talking over our words' end
                    self.report.overlaps += 1
                    self._turn_end = None
                self._voiced_since_turn = False
            if off + fb >= len(data):
                self._speaking = None
                self._listen_since = now
            else:
                self._speaking = (name, data, off + fb)
            return frame, None
        if self._start_at is not None:
            if now < self._start_at:
                return self.enc.silence, None
            self._start_at = None
            return self._begin_item(now)
        if self._next_item < len(self.items):
            waited = now - self._listen_since
            if self.agent_done(now) or waited > self.behaviour.reply_timeout_s:
                if not self._voiced_since_turn and self._turn_end is not None:
                    self.report.no_reply += 1
                    self._turn_end = None
                self._start_at = now + self.behaviour.human_delay_s
        return self.enc.silence, None

    def _begin_item(self, now: float) -> tuple[bytes, str | None]:
        if self._next_item >= len(self.items):  # a trailing wait has passed
            return self.enc.silence, None
        kind, value = self.items[self._next_item]
        self._next_item += 1
        self._voiced_since_turn = False
        self._listen_since = now
        if kind == "dtmf":
            self._turn_end = now
            return self.enc.silence, value
        if kind == "wait":  # keep quiet, then go straight on to the next item
            self._start_at = now + value
            return self.enc.silence, None
        path, data = value
        self.report.clips_played.append(Path(path).name)
        self._speaking = (Path(path).name, data, 0)
        self._speech_end = speech_end(data, self.enc.name)
        self._turn_end = None
        return self.talk(now)

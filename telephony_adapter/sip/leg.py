"""One SIP call leg: the pjsua2 `Call` and its media port, and the hand-over to asyncio.

Threads: `PjCall` callbacks run on PJSIP's SIP worker thread, `MediaPort` callbacks on the
conference bridge's clock thread. Neither ever blocks: they copy what they need and hand it to the
event loop with `call_soon_threadsafe`; agent audio waits for them in a thread-safe deque.

Call progress: the media port is connected as soon as PJSIP has a media stream (early media, 183),
but the *gate* only opens on 200 OK (CONFIRMED). Until then every received frame — ringback,
carrier announcements — is counted and dropped, never delivered as the callee's voice.

Lifetime: pjsua2 objects are only created on the stack's registered sip-api thread. Python never
destroys a pjsua2 object that PJSIP may still call back:
- Media ports are never destroyed while PJSIP runs: the conference bridge hands every port a frame
  each tick, connected or not, so a port being destroyed could be called back half-dead on the clock
  thread. A released leg's port goes back to the stack's pool (`port_pool`) for the next call.
- A `Call` is disowned at birth (`thisown = False`: freeing its wrapper never runs pjsua2's `~Call`) and
  held in `stack.calls` until PJSIP has reported it DISCONNECTED (then among the stack's last 16 ended calls).
  A Call wrapper freed while PJSIP still had the call crashed the SIP worker thread: dropping it ran
  `~Call` with the GIL released while the SIP worker delivered the far end's BYE (`onStreamDestroyed`,
  `onCallState`) to the half-freed Python object (segfault in `SWIG_Python_GetSwigThis`); and a `~Call`
  run late, after PJSIP had given the call's id to the next call, unhooked and hung up that call. The
  price: pjsua2 never frees the C++ `Call` (about 0.2 KB a call).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telephony_adapter.sip.stack import PjStack
from telephony_adapter.sip.vector import vector_bytes

log = logging.getLogger(__name__)

FRAME_BYTES = 320  # 20 ms of 16-bit mono PCM at 8 kHz
SILENCE = bytes(FRAME_BYTES)
MAX_QUEUED_FRAMES = 50  # 1 s; the pacer keeps only ~60 ms here


class LegEnded(RuntimeError):
    """The call is over; nothing can be sent on it any more."""


@dataclass
class LegStatus:
    """What the loop knows about the leg (only touched on the event loop)."""

    state: str = "NULL"
    status: int = 0
    reason: str = ""
    sip_call_id: str = ""
    codec: str = ""
    answered_at: float | None = None
    transfer_events: list[tuple[int, str, bool]] = field(default_factory=list)


class CallLeg:
    """An outbound INVITE and, once answered, its media."""

    def __init__(self, stack: PjStack, account: Any, loop: asyncio.AbstractEventLoop, *,
                 answer_guard_ms: int = 60) -> None:
        self.stack = stack
        self.pj = stack.pj
        self.account = account
        self.loop = loop
        self.st = LegStatus()
        self.answered = asyncio.Event()
        self.ended = asyncio.Event()
        self.gate_open = False  # set on the SIP thread at 200 OK; read on the media thread
        self.disconnected = False  # set on the SIP thread
        self.guard_frames = max(0, answer_guard_ms) // 20  # dropped right after the answer
        self._guard_left = 0
        self.early_frames = 0  # audible frames received before the answer (dropped)
        self.early_peak = 0  # loudest early sample seen (diagnostics)
        self.frames_in = 0
        self.outq: deque[bytes] = deque(maxlen=MAX_QUEUED_FRAMES)
        self.timing = MediaTiming()
        self.on_audio: Callable[[bytes], None] | None = None  # loop-side sinks, set by the transport
        self.on_dtmf: Callable[[str], None] | None = None
        self.on_end: Callable[[int, str], None] | None = None
        self.on_transfer: Callable[[int, str, bool], None] | None = None
        self.bridged_to: CallLeg | None = None
        self.call: Any = None
        self.port: Any = None
        self._slot: int | None = None
        self.stack.legs.add(self)

    # --- sip-api thread -------------------------------------------------------------------
    def start(self, uri: str, headers: dict[str, str]) -> None:
        """Send the INVITE. May be called again after a pj.Error (e.g. PJ_ETOOMANY while PJSIP still frees
        an ended call): the port is kept, the refused Call object is dropped here, on the sip-api thread."""
        pj = self.pj
        pool = port_pool(self.stack)
        if self.port is not None:
            pass
        elif pool:
            self.port = pool.pop()
            self.port._leg = weakref.ref(self)
        else:
            self.port = MediaPort(self)
            fmt = pj.MediaFormatAudio()
            fmt.type = pj.PJMEDIA_TYPE_AUDIO
            fmt.clockRate = 8000
            fmt.channelCount = 1
            fmt.bitsPerSample = 16
            fmt.frameTimeUsec = 20000
            self.port.createPort(f"dw{id(self) & 0xFFFFFF:x}", fmt)
        call = self.call = PjCall(self, self.account)
        prm = pj.CallOpParam(True)
        prm.opt.audioCount = 1
        prm.opt.videoCount = 0
        for name, value in headers.items():
            h = pj.SipHeader()
            h.hName, h.hValue = name, value
            prm.txOption.headers.append(h)
        try:
            call.makeCall(uri, prm)
        except pj.Error:
            if call.getId() == -1:  # PJSIP never had it: nothing will call it back, and its ~Call is a no-op
                self.stack.calls.discard(call)
                call.thisown = True
            raise

    def is_active(self) -> bool:
        # PJSIP reuses call slots: once DISCONNECTED, this Call object's id may already name
        # another call, so never ask PJSIP about it again
        call = self.call
        if call is None or self.disconnected:
            return False
        try:
            return call.isActive() and call.getInfo().state != self.pj.PJSIP_INV_STATE_DISCONNECTED
        except self.pj.Error:  # the session is already gone
            return False

    def hangup(self, status: int = 0, reason: str = "") -> None:
        """BYE when connected, CANCEL while ringing; nothing when the far end already ended it."""
        call = self.call
        if call is None or not self.is_active():
            return
        prm = self.pj.CallOpParam()
        if status:
            prm.statusCode = status
            prm.reason = reason
        try:
            call.hangup(prm)
        except self.pj.Error as exc:  # raced with the far end's BYE
            log.debug("sip hangup: %s", exc.info())

    def _live_call(self) -> Any:
        call = self.call
        if call is None or self.disconnected:
            raise LegEnded("the call has ended")
        return call

    def send_dtmf(self, digits: str) -> None:
        prm = self.pj.CallSendDtmfParam()
        prm.method = self.pj.PJSUA_DTMF_METHOD_RFC2833
        prm.digits = digits
        self._live_call().sendDtmf(prm)

    def refer(self, target: str) -> None:
        self._live_call().xfer(target, self.pj.CallOpParam(True))

    def audio_media(self) -> Any:
        call = self.call
        if call is None or self.disconnected:
            return None
        info = call.getInfo()
        for i, m in enumerate(info.media):
            if m.type == self.pj.PJMEDIA_TYPE_AUDIO and m.status == self.pj.PJSUA_CALL_MEDIA_ACTIVE:
                return call.getAudioMedia(i)
        return None

    def bridge(self, other: CallLeg) -> None:
        """Connect this leg's audio to `other`'s (both ways) and take our port out."""
        mine, theirs = self.audio_media(), other.audio_media()
        if mine is None or theirs is None:
            raise RuntimeError("a leg of the bridge has no active audio")
        for leg, media in ((self, mine), (other, theirs)):
            if leg.port is not None:
                try:
                    media.stopTransmit(leg.port)
                    leg.port.stopTransmit(media)
                except self.pj.Error:
                    pass
        mine.startTransmit(theirs)
        theirs.startTransmit(mine)
        self.bridged_to, other.bridged_to = other, self

    def release(self) -> None:
        """Drop the pjsua2 objects (on the sip-api thread, after the call ended)."""
        self.hangup()
        port = self.port
        self.call, self.port = None, None
        self.stack.legs.discard(self)
        if port is not None:  # back to the pool, never destroyed while the bridge runs (see the top)
            port._leg = _no_leg
            port_pool(self.stack).append(port)

    # --- PJSIP threads: hand over, never block ---------------------------------------------
    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass

    def connect_media(self) -> None:
        media = self.audio_media()
        if media is None or self.port is None:
            return
        slot = media.getPortId()
        if slot == self._slot:
            return
        media.startTransmit(self.port)
        self.port.startTransmit(media)
        self._slot = slot

    # --- loop side ------------------------------------------------------------------------
    def queue_frame(self, frame: bytes) -> None:
        """One paced frame of agent audio for the bridge (which takes one every 20 ms)."""
        if not self.outq:
            self.timing.queued_at = time.monotonic()
        self.outq.append(frame)

    def _deliver_audio(self, data: bytes, at: float) -> None:
        self.timing.handover.add((time.monotonic() - at) * 1000)
        if self.on_audio is not None:
            self.on_audio(data)

    def _on_state(self, state: str, status: int, reason: str, sip_call_id: str, codec: str) -> None:
        st = self.st
        st.state, st.sip_call_id = state, sip_call_id or st.sip_call_id
        if codec:
            st.codec = codec
        if status:
            st.status, st.reason = status, reason
        if state == "CONFIRMED" and not self.answered.is_set():
            st.answered_at = self.loop.time()
            self.answered.set()
        if state == "DISCONNECTED" and not self.ended.is_set():
            self.ended.set()
            if self.on_end is not None:
                self.on_end(status, reason)
            if self.bridged_to is not None and not self.bridged_to.ended.is_set():
                self.stack.submit(self.bridged_to.hangup)

    def _on_transfer(self, status: int, reason: str, final: bool) -> None:
        self.st.transfer_events.append((status, reason, final))
        if self.on_transfer is not None:
            self.on_transfer(status, reason, final)


class Spread:
    """Running mean and max of a delay, in ms."""

    def __init__(self) -> None:
        self.n, self.total, self.max = 0, 0.0, 0.0

    def add(self, ms: float) -> None:
        self.n += 1
        self.total += ms
        self.max = max(self.max, ms)

    def as_dict(self) -> dict[str, float]:
        return {"mean": round(self.total / self.n, 2) if self.n else 0.0, "max": round(self.max, 2), "n": self.n}


class MediaTiming:
    """Where a leg's media waits inside this process: `handover` is the conference bridge's clock thread
    handing a received frame to the event loop (call_soon_threadsafe), `spurt_wait` is the first frame of
    each burst of agent audio waiting in `outq` for the bridge's next tick."""

    def __init__(self) -> None:
        self.handover = Spread()
        self.spurt_wait = Spread()
        self.queued_at: float | None = None

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {"handover_ms": self.handover.as_dict(), "outq_first_frame_wait_ms": self.spurt_wait.as_dict()}


def _no_leg() -> None:
    return None


def port_pool(stack: PjStack) -> list[Any]:
    """The media ports of ended calls, kept for the next calls of this stack (PJSIP stops, then drops them)."""
    pool: list[Any] = stack.__dict__.setdefault("port_pool", [])
    return pool


class PjCall:  # the pjsua2 subclass is built lazily (pjsua2 loads only when SIP is used)
    def __new__(cls, leg: CallLeg, account: Any) -> Any:
        return _call_class(leg.pj)(leg, account)


class MediaPort:
    def __new__(cls, leg: CallLeg) -> Any:
        return _port_class(leg.pj)(leg)


_classes: dict[str, type] = {}


def _call_class(pj: Any) -> type:
    if "call" in _classes:
        return _classes["call"]

    class _PjCall(pj.Call):
        # the leg is held weakly: no reference cycle may hold a pjsua2 object, or the garbage
        # collector would destroy it on whatever thread it runs (PJSIP only allows registered ones)
        def __init__(self, leg: CallLeg, account: Any) -> None:
            super().__init__(account)
            self._leg = weakref.ref(leg)
            self._stack = leg.stack
            self.thisown = False  # never ~Call from Python (see the top): PJSIP's threads may be calling it
            leg.stack.calls.add(self)

        def onCallState(self, prm: Any) -> None:
            leg = self._leg()
            if leg is None:
                self._forget_if_over()
                return
            try:
                info = self.getInfo()
            except pj.Error:
                return
            state = info.stateText
            if info.state == pj.PJSIP_INV_STATE_CONFIRMED and not leg.gate_open:
                leg._guard_left = leg.guard_frames
                leg.gate_open = True  # from here on (after the guard), what we hear is the callee
            elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                leg.gate_open = False
                leg.disconnected = True
            codec = ""
            if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
                try:
                    codec = self.getStreamInfo(0).codecName
                except pj.Error:
                    pass
            leg._post(leg._on_state, state, int(info.lastStatusCode), str(info.lastReason),
                      str(info.callIdString), codec)
            if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                # PJSIP reuses the call id for the next call: never ask this Call about it again
                leg.call = None
                self._stack.submit(self._stack.call_ended, self)  # after this callback has returned

        def _forget_if_over(self) -> None:
            try:
                over = self.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED
            except pj.Error:
                over = True
            if over:
                self._stack.submit(self._stack.call_ended, self)

        def onCallMediaState(self, prm: Any) -> None:
            leg = self._leg()
            try:
                if leg is not None:
                    leg.connect_media()
            except pj.Error as exc:
                log.warning("sip: connecting media: %s", exc.info())

        def onDtmfDigit(self, prm: Any) -> None:
            leg = self._leg()
            if leg is not None and leg.gate_open and leg.on_dtmf is not None:
                leg._post(leg.on_dtmf, str(prm.digit))

        def onCallTransferStatus(self, prm: Any) -> None:
            prm.cont = True
            leg = self._leg()
            if leg is not None:
                leg._post(leg._on_transfer, int(prm.statusCode), str(prm.reason), bool(prm.finalNotify))

    _classes["call"] = _PjCall
    return _PjCall


def _port_class(pj: Any) -> type:
    if "port" in _classes:
        return _classes["port"]
    audio = pj.PJMEDIA_FRAME_TYPE_AUDIO

    class _MediaPort(pj.AudioMediaPort):
        def __init__(self, leg: CallLeg) -> None:
            super().__init__()
            self._leg = weakref.ref(leg)
            self._silence = pj.ByteVector(SILENCE)

        def onFrameReceived(self, frame: Any) -> None:
            leg = self._leg()
            if leg is None:
                return
            data = vector_bytes(frame.buf, pj) if frame.type == audio and frame.size == FRAME_BYTES else SILENCE
            if not leg.gate_open or leg._guard_left > 0:
                if leg.gate_open:
                    leg._guard_left -= 1
                elif data is not SILENCE and not leg.ended.is_set() and (peak := _peak(data)) > 0:
                    leg.early_frames += 1
                    leg.early_peak = max(leg.early_peak, peak)
                return
            leg.frames_in += 1
            if leg.on_audio is not None:
                leg._post(leg._deliver_audio, data, time.monotonic())

        def onFrameRequested(self, frame: Any) -> None:
            leg = self._leg()
            if leg is not None and threading.get_native_id() != leg.stack.clock_tid:
                leg.stack.on_clock_thread()
            frame.type = audio
            try:
                frame.buf = pj.ByteVector(leg.outq.popleft()) if leg is not None and leg.gate_open else self._silence
            except IndexError:
                frame.buf = self._silence
            else:
                if leg is not None and (since := leg.timing.queued_at) is not None:  # the first frame of a talk spurt
                    leg.timing.queued_at = None
                    leg.timing.spurt_wait.add((time.monotonic() - since) * 1000)
            frame.size = FRAME_BYTES

    _classes["port"] = _MediaPort
    return _MediaPort


def _peak(data: bytes) -> int:
    import numpy as np

    return int(np.abs(np.frombuffer(data, "<i2").astype(np.int32)).max()) if data else 0

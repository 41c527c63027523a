"""A SIP test carrier: the trunk and its callees, on PJSIP (pjsua2), in a process of its own.

    python -m telephony_adapter.sim.sip_carrier --port 5090 --http-port 8090 --numbers numbers.json
    # prints "ready sip=5090 http=8090"; point SIP_TRUNK_URI at sip:127.0.0.1:5090

It answers INVITEs for any number of numbers at once; the user part of the request's To URI is the
number, and its behaviour (the JSON file, or `POST /numbers`) says what happens after `ring_s` of
180 Ringing: `caller` (200 OK, then a recorded callee talks), `busy` (486), `no-answer` (rings until
the caller CANCELs), `reject` (the final `code` given, e.g. 503). The callee speaks its clips turn by
turn after the agent has stopped talking and measures voice-to-voice as it hears it
(`callee_turns.CalleeTurns`, shared with the Twilio-protocol carrier): from the end of its words to
the first voiced agent frame PJSIP plays out of its jitter buffer. `GET /calls` reports every call
(JSON, keyed by the SIP Call-ID), `GET /health` answers 200 once ready.

PJSIP's rules, kept here: one Endpoint per process; SIP events and callbacks on the main thread
(`libHandleEvents`), media on the conference bridge's clock thread (the null sound device); callbacks
never block — the clock thread only computes frames and posts what needs PJSIP (DTMF, hang-up) to the
main thread's queue; pjsua2 objects are held by the carrier only (callbacks reach their records
weakly, never in cycles) and each Call is dropped in its own DISCONNECTED callback (PJSIP reuses call
ids); call state is checked before hangup(). The HTTP thread never touches a pjsua2 object.
"""
from __future__ import annotations

import heapq
import itertools
import json
import logging
import queue
import re
import signal
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from telephony_adapter.sim.callee_turns import VOICES_DIR, CalleeTurns, CallerBehaviour
from telephony_adapter.sip.stack import prioritise_media_threads, set_nice, thread_names
from telephony_adapter.sip.vector import vector_bytes

log = logging.getLogger(__name__)

RATE = 8000
FRAME_BYTES = 320  # 20 ms of 16-bit PCM at 8 kHz
ANSWERS = ("caller", "busy", "no-answer", "reject")


@dataclass
class SipNumber:
    """What happens when a number is dialled."""

    answer: str = "caller"  # caller | busy | no-answer | reject
    ring_s: float = 0.5  # 180 Ringing this long before the answer
    code: int = 0  # the final answer of `reject` (and of `busy`: 486 unless given)
    caller: CallerBehaviour = field(default_factory=CallerBehaviour)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SipNumber:
        answer = d.get("answer", "caller")
        if answer not in ANSWERS:
            raise ValueError(f"answer must be one of {ANSWERS}, not {answer!r}")
        code = int(d.get("code", 486 if answer == "busy" else 0))
        if answer == "reject" and not 300 <= code <= 699:
            raise ValueError(f"reject needs a final code 300-699, not {code}")
        caller = CallerBehaviour(**d["caller"]) if isinstance(d.get("caller"), dict) else CallerBehaviour()
        return cls(answer=answer, ring_s=float(d.get("ring_s", 0.5)), code=code, caller=caller)


@dataclass
class CarrierCall:
    """One received INVITE, as the control channel reports it (plain data: no pjsua2 object)."""

    key: int
    number: str
    sip_call_id: str
    from_uri: str
    behaviour: SipNumber
    state: str = "ringing"  # ringing | live | ended
    created: float = field(default_factory=time.time)
    answered_at: float | None = None
    ended_at: float | None = None
    final_code: int = 0  # the last SIP status of the INVITE session (200, 486, 487 ...)
    codec: str = ""
    ended_by: str = ""  # caller | agent | carrier
    turns: CalleeTurns | None = None
    dtmf_sent: list[str] = field(default_factory=list)
    media: dict[str, Any] = field(default_factory=dict)  # the callee's jitter buffer and RTP receive jitter

    def summary(self) -> dict[str, Any]:
        report = self.turns.report.as_dict() if self.turns is not None else None
        if report is not None:
            report = {k: list(v) if isinstance(v, list) else v for k, v in report.items()}
            report["ended_by"] = self.ended_by or report["ended_by"]
        return {"sip_call_id": self.sip_call_id, "number": self.number, "from": self.from_uri, "state": self.state,
                "answer": self.behaviour.answer, "final_code": self.final_code, "codec": self.codec,
                "duration_s": round((self.ended_at or time.time()) - self.answered_at, 2) if self.answered_at else 0,
                "ended_by": self.ended_by, "dtmf_sent": list(self.dtmf_sent), "media": dict(self.media),
                "caller": report}


class SipCarrier:
    def __init__(self, *, sip_port: int, numbers: dict[str, SipNumber] | None = None,
                 default: SipNumber | None = None, rtp_port: int = 42000, rtp_ports: int = 400,
                 codecs: tuple[str, ...] = ("PCMA", "PCMU"), jb: tuple[int, int, int, int] = (-1, 20, 160, 360),
                 max_call_s: float = 600.0, voices_dir: Path = VOICES_DIR, log_level: int = 1,
                 media_nice: int = -10) -> None:
        self.sip_port = sip_port
        self.numbers = dict(numbers or {})
        self.default = default or SipNumber(answer="reject", code=404)
        self.rtp_port, self.rtp_ports = rtp_port, rtp_ports
        self.codecs = codecs
        self.jb = jb
        self.max_call_s = max_call_s
        self.voices_dir = voices_dir
        self.log_level = log_level
        self.media_nice = media_nice  # a phone's audio runs at a raised priority (as dialwise's SIP media does)
        self.media_threads: dict[str, int | str] = {}
        self.calls: dict[str, CarrierCall] = {}  # by SIP Call-ID (read by the HTTP thread)
        self.posts: queue.SimpleQueue[tuple[str, int, Any]] = queue.SimpleQueue()  # to the main thread
        self._legs: dict[int, _Leg] = {}  # the pjsua2 objects, main thread only
        self._jobs: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count(1)
        # media ports are never destroyed while PJSIP runs (the bridge calls every port each tick, so one being
        # destroyed could be called back half-dead): an ended call's port serves the next call
        self._ports: list[Any] = []
        self._free_ports: list[Any] = []
        self.pj: Any = None
        self.ep: Any = None
        self.account: Any = None
        self.stop = threading.Event()

    def behaviour(self, number: str) -> SipNumber:
        return self.numbers.get(number, self.default)

    def set_numbers(self, raw: dict[str, Any]) -> None:
        for number, d in raw.items():
            b = SipNumber.from_dict(d)
            if number == "default":
                self.default = b
            else:
                self.numbers[number] = b

    def snapshot(self) -> list[dict[str, Any]]:
        return [c.summary() for c in list(self.calls.values())]

    # --- the main thread ------------------------------------------------------------------------
    def start(self) -> None:
        import pjsua2 as pj

        self.pj = pj
        before = thread_names()
        ep = self.ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0  # SIP events are polled on the main thread (serve)
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = 64
        cfg.uaConfig.userAgent = "dialwise-sip-carrier"
        cfg.logConfig.level = cfg.logConfig.consoleLevel = self.log_level
        med = cfg.medConfig
        med.clockRate = med.sndClockRate = RATE
        med.channelCount = 1
        med.audioFramePtime = med.ptime = 20
        med.noVad = True
        med.ecTailLen = 0
        med.maxMediaPorts = 256
        med.jbInit, med.jbMinPre, med.jbMaxPre, med.jbMax = self.jb
        ep.libInit(cfg)
        tc = pj.TransportConfig()
        tc.port, tc.boundAddress, tc.publicAddress = self.sip_port, "127.0.0.1", "127.0.0.1"
        tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
        self.sip_port = int(ep.transportGetInfo(tid).localName.rsplit(":", 1)[-1])
        ep.libStart()
        ep.audDevManager().setNullDev()
        self.media_threads = prioritise_media_threads(before, self.media_nice)
        _clock_nice[1] = self.media_nice
        for c in ep.codecEnum2():
            ep.codecSetPriority(c.codecId, 0)
        for i, name in enumerate(self.codecs):
            ep.codecSetPriority(f"{name.upper()}/8000/1", 255 - i)
        ac = pj.AccountConfig()
        ac.idUri = f"sip:carrier@127.0.0.1:{self.sip_port}"
        ac.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        ac.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
        ac.mediaConfig.transportConfig.port = self.rtp_port
        ac.mediaConfig.transportConfig.portRange = self.rtp_ports
        self.account = _account_class(pj)(self)
        self.account.create(ac)

    def serve(self) -> None:
        """Poll SIP events and run the posted and timed jobs until `stop` is set."""
        while not self.stop.is_set():
            self.ep.libHandleEvents(10)
            self.run_pending()
        self.shutdown()

    def run_pending(self) -> None:
        while True:
            try:
                kind, key, arg = self.posts.get_nowait()
            except queue.Empty:
                break
            self._posted(kind, key, arg)
        now = time.monotonic()
        while self._jobs and self._jobs[0][0] <= now:
            fn = heapq.heappop(self._jobs)[2]
            try:
                fn()
            except self.pj.Error as exc:  # e.g. the caller cancelled meanwhile
                log.info("sip carrier: %s", exc.info().strip())

    def later(self, seconds: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._jobs, (time.monotonic() + seconds, next(self._seq), fn))

    def shutdown(self) -> None:
        try:
            self.ep.hangupAllCalls()
            deadline = time.monotonic() + 1.0
            while self._legs and time.monotonic() < deadline:
                self.ep.libHandleEvents(20)
        except self.pj.Error:
            pass
        self._legs.clear()
        if self.account is not None:
            self.account.shutdown()
            self.account = None
        self.ep.libDestroy()
        for port in self._ports:  # the library is gone: their destructors must not call it
            port.thisown = False

    # --- calls (main thread) ----------------------------------------------------------------------
    def incoming(self, account: Any, call_id: int) -> None:
        pj = self.pj
        key = next(self._seq)
        call = _call_class(pj)(account, call_id, self, key)
        info = call.getInfo()
        m = re.search(r"sips?:([^@;>]+)@", info.localUri)
        number = m.group(1) if m else ""
        b = self.behaviour(number)
        rec = CarrierCall(key, number, str(info.callIdString), str(info.remoteUri), b)
        self.calls[rec.sip_call_id] = rec
        leg = self._legs[key] = _Leg(call, rec)
        self._answer(leg, 180)
        if b.answer == "no-answer":
            return
        self.later(b.ring_s, lambda: self._after_ring(key))

    def _after_ring(self, key: int) -> None:
        leg = self._legs.get(key)
        if leg is None or not leg.active(self.pj):
            return
        b = leg.rec.behaviour
        if b.answer == "caller":
            leg.rec.turns = CalleeTurns(b.caller, self.voices_dir, encoding="pcm16")
            self._answer(leg, 200)
            self.later(self.max_call_s, lambda: self._hang_up(key, "carrier"))
        else:
            self._answer(leg, b.code or 486)

    def _answer(self, leg: _Leg, code: int) -> None:
        prm = self.pj.CallOpParam()
        prm.statusCode = code
        (leg.call.answer if code < 300 else leg.call.hangup)(prm)

    def _hang_up(self, key: int, by: str) -> None:
        leg = self._legs.get(key)
        if leg is None or not leg.active(self.pj):
            return
        leg.rec.ended_by = leg.rec.ended_by or by
        leg.call.hangup(self.pj.CallOpParam())

    def _posted(self, kind: str, key: int, arg: Any) -> None:
        leg = self._legs.get(key)
        if leg is None or not leg.active(self.pj):
            return
        try:
            if kind == "hangup":
                self._hang_up(key, arg)
            elif kind == "dtmf":
                leg.call.dialDtmf(arg)
                leg.rec.dtmf_sent.append(arg)
        except self.pj.Error as exc:
            log.info("sip carrier %s: %s", kind, exc.info().strip())

    def on_state(self, key: int, state: int, code: int) -> None:
        pj, leg = self.pj, self._legs.get(key)
        if leg is None:
            return
        rec = leg.rec
        if code:
            rec.final_code = code
        if state == pj.PJSIP_INV_STATE_CONFIRMED and rec.state == "ringing":
            rec.answered_at = time.time()
            try:
                rec.codec = str(leg.call.getStreamInfo(0).codecName)
            except pj.Error:
                pass
            rec.state = "live"  # from here the clock thread drives the callee
            self.later(1.0, lambda: self._media_stats(key))
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            if rec.state == "live":
                rec.ended_by = rec.ended_by or "agent"
            rec.state, rec.ended_at = "ended", time.time()
            del self._legs[key]  # the Call goes now, in its DISCONNECTED callback (PJSIP reuses call ids)
            if leg.port is not None:
                leg.port.rec = None
                self._free_ports.append(leg.port)
            leg.call = leg.port = None

    def _media_stats(self, key: int) -> None:
        """Every second of a live call: what the callee's jitter buffer holds, and how regularly the agent's
        RTP arrives (what the agent's side adds to what the callee hears)."""
        leg = self._legs.get(key)
        if leg is None or not leg.active(self.pj):
            return
        try:
            stat = leg.call.getStreamStat(0)
        except self.pj.Error:
            return
        jb, rx = stat.jbuf, stat.rtcp.rxStat
        m = leg.rec.media
        m["jb_delay_ms"] = {"avg": jb.avgDelayMsec, "min": jb.minDelayMsec, "max": jb.maxDelayMsec}
        m["jb_prefetch"] = {"now": jb.prefetch, "max": jb.maxPrefetch, "burst_avg": jb.avgBurst}
        m["jb_frames"] = {"lost": jb.lost, "discard": jb.discard, "empty": jb.empty}
        m["rx_jitter_ms"] = {"mean": round(rx.jitterUsec.mean / 1000, 1), "max": round(rx.jitterUsec.max / 1000, 1)}
        m["rx_packets"], m["rx_lost"] = rx.pkt, rx.loss
        self.later(1.0, lambda: self._media_stats(key))

    def on_media(self, key: int) -> None:
        pj, leg = self.pj, self._legs.get(key)
        if leg is None:
            return
        info = leg.call.getInfo()
        for i, m in enumerate(info.media):
            if m.type != pj.PJMEDIA_TYPE_AUDIO or m.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                continue
            media = leg.call.getAudioMedia(i)
            if leg.port is None and self._free_ports:
                leg.port = self._free_ports.pop()
                leg.port.rec, leg.port.hanging = leg.rec, False
            elif leg.port is None:
                leg.port = _port_class(pj)(leg.rec, self.posts)
                fmt = pj.MediaFormatAudio()
                fmt.type, fmt.clockRate, fmt.channelCount, fmt.bitsPerSample, fmt.frameTimeUsec = (
                    pj.PJMEDIA_TYPE_AUDIO, RATE, 1, 16, 20000)
                leg.port.createPort(f"callee{key}", fmt)
                self._ports.append(leg.port)
            media.startTransmit(leg.port)
            leg.port.startTransmit(media)


class _Leg:
    """The pjsua2 objects of one call; only the carrier holds them (main thread)."""

    def __init__(self, call: Any, rec: CarrierCall) -> None:
        self.call: Any = call
        self.port: Any = None
        self.rec = rec

    def active(self, pj: Any) -> bool:
        if self.call is None or self.rec.state == "ended":
            return False
        try:
            return bool(self.call.isActive()) and self.call.getInfo().state != pj.PJSIP_INV_STATE_DISCONNECTED
        except pj.Error:
            return False


_classes: dict[str, type] = {}


def _account_class(pj: Any) -> type:
    if "account" not in _classes:
        class _Account(pj.Account):
            def __init__(self, carrier: SipCarrier) -> None:
                super().__init__()
                self._carrier = weakref.ref(carrier)

            def onIncomingCall(self, prm: Any) -> None:
                carrier = self._carrier()
                if carrier is not None:
                    carrier.incoming(self, prm.callId)

        _classes["account"] = _Account
    return _classes["account"]


def _call_class(pj: Any) -> type:
    if "call" not in _classes:
        class _Call(pj.Call):
            def __init__(self, account: Any, call_id: int, carrier: SipCarrier, key: int) -> None:
                super().__init__(account, call_id)
                self._carrier = weakref.ref(carrier)
                self._key = key

            def onCallState(self, prm: Any) -> None:
                carrier = self._carrier()
                if carrier is None:
                    return
                try:
                    info = self.getInfo()
                except pj.Error:
                    return
                carrier.on_state(self._key, info.state, int(info.lastStatusCode))

            def onCallMediaState(self, prm: Any) -> None:
                carrier = self._carrier()
                try:
                    if carrier is not None:
                        carrier.on_media(self._key)
                except pj.Error as exc:
                    log.warning("sip carrier: media: %s", exc.info().strip())

        _classes["call"] = _Call
    return _classes["call"]


_clock_nice = [0, 0]  # the conference clock's thread id, and the nice value it gets


def _port_class(pj: Any) -> type:
    if "port" not in _classes:
        audio = pj.PJMEDIA_FRAME_TYPE_AUDIO

        class _Port(pj.AudioMediaPort):
            """The callee's mouth and ear, on the conference bridge's clock thread: computes, posts, never
            blocks and never calls into PJSIP."""

            def __init__(self, rec: CarrierCall, posts: queue.SimpleQueue) -> None:
                super().__init__()
                self.rec: CarrierCall | None = rec
                self.posts = posts
                self.silence = bytes(FRAME_BYTES)
                self._silence_vec = pj.ByteVector(self.silence)
                self.hanging = False

            def onFrameRequested(self, frame: Any) -> None:
                if threading.get_native_id() != _clock_nice[0]:  # the bridge's clock thread (re)started
                    _clock_nice[0] = threading.get_native_id()
                    set_nice(_clock_nice[0], _clock_nice[1])
                frame.type = audio
                frame.size = FRAME_BYTES
                rec = self.rec
                turns = rec.turns if rec is not None else None
                if rec is None or rec.state != "live" or turns is None or self.hanging:
                    frame.buf = self._silence_vec
                    return
                now = time.monotonic()
                if turns.started is None:
                    turns.begin(now)
                if turns.done(now):
                    self.hanging = True
                    self.posts.put(("hangup", rec.key, "caller"))
                    frame.buf = self._silence_vec
                    return
                data, dtmf = turns.talk(now)
                if dtmf:
                    self.posts.put(("dtmf", rec.key, dtmf))
                frame.buf = pj.ByteVector(data) if data != self.silence else self._silence_vec
                turns.report.frames_sent += 1

            def onFrameReceived(self, frame: Any) -> None:
                rec = self.rec
                turns = rec.turns if rec is not None else None
                if rec is None or rec.state != "live" or turns is None or turns.started is None:
                    return
                audible = frame.type == audio and frame.size == FRAME_BYTES
                data = vector_bytes(frame.buf, pj) if audible else self.silence
                turns.report.media_in += 1
                turns.hear(data, time.monotonic())

        _classes["port"] = _Port
    return _classes["port"]


# --- the control channel ---------------------------------------------------------------------------
def serve_http(carrier: SipCarrier, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: Any) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/calls":
                self._send(200, carrier.snapshot())
            elif self.path == "/health":
                self._send(200, {"sip_port": carrier.sip_port, "calls": len(carrier.calls)})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/numbers":
                self._send(404, {"error": "not found"})
                return
            try:
                raw = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                carrier.set_numbers(raw)
            except (TypeError, ValueError) as exc:
                self._send(422, {"error": str(exc)})
                return
            self._send(200, {"numbers": len(carrier.numbers)})

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="carrier-http", daemon=True).start()
    return server


def load_numbers(path: Path) -> tuple[dict[str, SipNumber], SipNumber | None]:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    numbers = {k: SipNumber.from_dict(v) for k, v in raw.items() if k != "default"}
    return numbers, SipNumber.from_dict(raw["default"]) if "default" in raw else None


def parse_jb(text: str) -> tuple[int, int, int, int]:
    """`--jb` "init,min_pre,max_pre,max" (ms; init -1: PJSIP decides). Pass it as `--jb=-1,...`: argparse
    reads a separate "-1,..." as an option."""
    jb = tuple(int(x) for x in text.split(","))
    if len(jb) != 4:
        raise ValueError("--jb takes four numbers: init,min_pre,max_pre,max")
    return (jb[0], jb[1], jb[2], jb[3])


def arg_parser() -> Any:
    import argparse

    p = argparse.ArgumentParser(description="SIP test carrier (PJSIP): a trunk whose callees play recorded clips")
    p.add_argument("--port", type=int, default=5090, help="SIP over UDP on 127.0.0.1 (0: any free port)")
    p.add_argument("--http-port", type=int, default=0, help="the control channel (0: any free port)")
    p.add_argument("--numbers", type=Path, help="JSON {number|default: behaviour}")
    p.add_argument("--rtp-port", type=int, default=42000)
    p.add_argument("--rtp-ports", type=int, default=400)
    p.add_argument("--codecs", default="PCMA,PCMU")
    p.add_argument("--jb", default="-1,20,160,360", help="jitter buffer init,min_pre,max_pre,max in ms (PJSIP)")
    p.add_argument("--log-level", type=int, default=1)
    p.add_argument("--media-nice", type=int, default=-10,
                   help="nice value of PJSIP's media threads (below 0 needs CAP_SYS_NICE; 0: unchanged)")
    return p


def main(argv: list[str] | None = None) -> None:
    p = arg_parser()
    args = p.parse_args(argv)
    numbers, default = load_numbers(args.numbers) if args.numbers else ({}, None)
    try:
        jb = parse_jb(args.jb)
    except ValueError as exc:
        p.error(str(exc))
    carrier = SipCarrier(sip_port=args.port, numbers=numbers, default=default, rtp_port=args.rtp_port,
                         rtp_ports=args.rtp_ports, codecs=tuple(c.strip() for c in args.codecs.split(",")),
                         jb=(jb[0], jb[1], jb[2], jb[3]), log_level=args.log_level,
                         media_nice=args.media_nice)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: carrier.stop.set())
    carrier.start()
    http = serve_http(carrier, args.http_port)
    print(f"ready sip={carrier.sip_port} http={http.server_address[1]}", flush=True)
    try:
        carrier.serve()
    finally:
        http.shutdown()


if __name__ == "__main__":
    main()

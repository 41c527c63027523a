"""A tiny scripted SIP callee on PJSIP, for what baresip cannot do: early media and any final code.

Run as its own process (PJSIP allows one endpoint per process):
    python tests/sip_callee.py PORT
It prints "ready" once listening. The user part of the request-URI says what to do:
    code-NNN       answer with final response NNN (e.g. code-480, code-503)
    early-S        183 Session Progress with SDP, then S seconds of a loud 1 kHz "carrier announcement"
                   as early media, then 200 OK and silence; hangs up 3 s after answering
    ans-S          200 OK at once (silence), BYE S seconds later
"""
from __future__ import annotations

import heapq
import re
import sys
import time

import numpy as np
import pjsua2 as pj

RATE = 8000
TONE = (np.sin(2 * np.pi * 1000 * np.arange(160) / RATE) * 12000).astype("<i2").tobytes()
SILENCE = bytes(320)
jobs: list[tuple[float, int, object]] = []
keep: list[object] = []


def later(seconds: float, fn) -> None:
    heapq.heappush(jobs, (time.monotonic() + seconds, id(fn), fn))


class Source(pj.AudioMediaPort):
    def __init__(self) -> None:
        super().__init__()
        self.loud = True
        self._tone, self._quiet = pj.ByteVector(TONE), pj.ByteVector(SILENCE)

    def onFrameRequested(self, frame) -> None:
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = self._tone if self.loud else self._quiet
        frame.size = 320

    def onFrameReceived(self, frame) -> None:
        pass


class Call(pj.Call):
    def __init__(self, acc, call_id: int) -> None:
        super().__init__(acc, call_id)
        self.source: Source | None = None

    def onCallMediaState(self, prm) -> None:
        info = self.getInfo()
        for i, m in enumerate(info.media):
            if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE and self.source:
                self.source.startTransmit(self.getAudioMedia(i))


def respond(call: Call, code: int) -> None:
    prm = pj.CallOpParam()
    prm.statusCode = code
    (call.answer if code < 300 else call.hangup)(prm)


def hangup(call: Call) -> None:
    if call.isActive():
        call.hangup(pj.CallOpParam())


class Account(pj.Account):
    def onIncomingCall(self, prm) -> None:
        call = Call(self, prm.callId)
        keep.append(call)
        user = re.search(r"sip:([^@;>]+)@", call.getInfo().localUri)
        user = user.group(1) if user else ""
        if m := re.fullmatch(r"code-(\d{3})", user):
            respond(call, int(m.group(1)))
        elif m := re.fullmatch(r"early-([\d.]+)", user):
            call.source = Source()
            fmt = pj.MediaFormatAudio()
            fmt.type, fmt.clockRate, fmt.channelCount, fmt.bitsPerSample, fmt.frameTimeUsec = (
                pj.PJMEDIA_TYPE_AUDIO, RATE, 1, 16, 20000)
            call.source.createPort("announce", fmt)
            respond(call, 183)

            def answer() -> None:
                call.source.loud = False
                respond(call, 200)
                later(3.0, lambda: hangup(call))

            later(float(m.group(1)), answer)
        elif m := re.fullmatch(r"ans-([\d.]+)", user):
            respond(call, 200)
            later(float(m.group(1)), lambda: hangup(call))
        else:
            respond(call, 404)


def main() -> None:
    port = int(sys.argv[1])
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = cfg.logConfig.consoleLevel = 1
    cfg.medConfig.clockRate = cfg.medConfig.sndClockRate = RATE
    cfg.medConfig.noVad = True
    ep.libInit(cfg)
    tc = pj.TransportConfig()
    tc.port, tc.boundAddress, tc.publicAddress = port, "127.0.0.1", "127.0.0.1"
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for c in ep.codecEnum2():
        ep.codecSetPriority(c.codecId, 0)
    ep.codecSetPriority("PCMA/8000/1", 255)
    ep.codecSetPriority("PCMU/8000/1", 254)
    ac = pj.AccountConfig()
    ac.idUri = f"sip:callee@127.0.0.1:{port}"
    ac.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    ac.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
    acc = Account()
    acc.create(ac)
    print("ready", flush=True)
    while True:
        ep.libHandleEvents(10)
        while jobs and jobs[0][0] <= time.monotonic():
            try:
                heapq.heappop(jobs)[2]()
            except pj.Error as exc:  # e.g. the caller cancelled meanwhile
                print("callee:", exc.info(), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()

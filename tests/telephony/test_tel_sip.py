"""The SIP user agent against real, independent SIP endpoints (no models): Debian's baresip as the
callee (started here, in its own config folder; installed with apt when missing), and, for what
baresip cannot do (early media, arbitrary final codes), a scripted PJSIP callee in its own process."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from telephony_adapter.base import AudioIn, DtmfIn, Hangup, MarkPlayed
from telephony_adapter.sim.baresip import Baresip, Callee, ensure_baresip, free_udp_port, write_wav8k
from telephony_adapter.sip import SipOptions, SipUserAgent

pytestmark = pytest.mark.timeout(120)
if ensure_baresip() is None:
    pytest.skip("baresip is not installed and cannot be (needs apt-get as root): the SIP tests need a real "
                "SIP peer", allow_module_level=True)

RATE = 8000
# per-process options of the one PJSIP endpoint; every test of the session uses these
PROCESS = dict(local_port=0, bind_address="127.0.0.1", rtp_port_min=42000, rtp_port_max=42999)


def options(**kw) -> SipOptions:
    return SipOptions(**{**PROCESS, "keepalive_s": 0, **kw})


def tone(freq: float, seconds: float, amp: float = 8000, rate: int = RATE) -> np.ndarray:
    return (np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate) * amp).astype(np.int16)


def quiet(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.int16)


def band_rms(pcm: np.ndarray, freq: float, rate: int = RATE) -> float:
    """RMS of the part of `pcm` near `freq` (a crude narrow band-pass through the FFT)."""
    spec = np.fft.rfft(pcm.astype(np.float64))
    f = np.fft.rfftfreq(len(pcm), 1 / rate)
    spec[np.abs(f - freq) > 30] = 0
    return float(np.sqrt(np.mean(np.fft.irfft(spec, len(pcm)) ** 2)))


async def collect(transport, seconds: float = 30.0) -> dict:
    """Read the transport until Hangup (or `seconds`)."""
    got = {"frames": [], "digits": [], "marks": [], "hangup": None}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            ev = await asyncio.wait_for(transport.receive(), 0.5)
        except TimeoutError:
            continue
        if isinstance(ev, AudioIn):
            assert ev.sample_rate == RATE and ev.pcm.dtype == np.int16 and len(ev.pcm) == 160
            got["frames"].append(ev.pcm)
        elif isinstance(ev, DtmfIn):
            got["digits"].append(ev.digit)
        elif isinstance(ev, MarkPlayed):
            got["marks"].append(ev.name)
        elif isinstance(ev, Hangup):
            got["hangup"] = ev
            break
    return got


@pytest.fixture
async def ua():
    agent = await SipUserAgent(options()).start()
    yield agent
    await agent.close()


def peer(tmp_path: Path, pcm: np.ndarray, callees: list[Callee], name: str = "br") -> Baresip:
    return Baresip(tmp_path / name, write_wav8k(tmp_path / f"{name}.wav", pcm), callees)


@pytest.mark.parametrize("codec", ["PCMA", "PCMU"])
async def test_answered_call_carries_audio_both_ways(tmp_path, codec):
    """G.711 A-law and μ-law: the callee's tone reaches the session, ours reaches the callee; caller id in
    From; the callee hanging up (end of its WAV) ends the inbox."""
    said = np.concatenate([quiet(0.5), tone(1000, 1.0), quiet(1.5)])
    with peer(tmp_path, said, [Callee("callee", codecs=codec)]) as br:
        agent = await SipUserAgent(options(caller_id="+861088880000")).start()
        try:
            attempt = await agent.dial("callee", uri_template=f"sip:{{phone}}@127.0.0.1:{br.port}")
            assert attempt.answered, attempt.detail
            assert attempt.extra["codec"] == codec and attempt.sip_call_id
            t = attempt.transport
            await t.send_audio(tone(440, 1.0, rate=16000), 16000)  # the transport resamples to 8 kHz
            await t.mark("tone")
            got = await collect(t)
        finally:
            await agent.close()
        incoming = br.wait_event("CALL_ESTABLISHED")
    assert incoming["peeruri"].startswith("sip:+861088880000@")
    assert got["hangup"] is not None and got["hangup"].reason == "hangup" and t.far_end_hung_up
    loud = [f for f in got["frames"] if np.abs(f).max() > 4000]
    assert 40 <= len(loud) <= 55, len(loud)  # ~1 s of the callee's tone, nothing of it lost or doubled
    assert 140 <= len(got["frames"]) <= 160  # 20 ms frames for the whole 3 s call
    assert got["marks"] == ["tone"]
    _, heard = br.dumps()
    assert band_rms(heard, 440) > 2000, "the callee did not hear our audio"


async def test_dtmf_both_ways_and_our_hangup(tmp_path, ua):
    with peer(tmp_path, quiet(20), [Callee("callee")]) as br:
        attempt = await ua.dial("callee", uri_template=f"sip:{{phone}}@127.0.0.1:{br.port}")
        assert attempt.answered, attempt.detail
        t = attempt.transport
        # baresip takes keypad digits only once its side of the call is up (our ACK reached it); under load
        # that can be well after our 200 OK
        await asyncio.to_thread(br.wait_event, "CALL_ESTABLISHED")
        await asyncio.sleep(0.3)
        await asyncio.to_thread(br.keys, "12#")  # baresip's keypad: RFC 4733 telephone-events
        got = {"digits": []}
        deadline = time.monotonic() + 10
        while len(got["digits"]) < 3 and time.monotonic() < deadline:
            ev = await asyncio.wait_for(t.receive(), 5)
            if isinstance(ev, DtmfIn):
                got["digits"].append(ev.digit)
        await t.send_dtmf("5*")
        await asyncio.sleep(1.0)
        await t.hangup()
        closed = await asyncio.to_thread(br.wait_event, "CALL_CLOSED")
    assert got["digits"] == ["1", "2", "#"]
    sent = [e["param"] for e in br.events if e.get("type") == "CALL_DTMF_START"]
    assert sent == ["5", "*"]
    assert not t.far_end_hung_up and closed["param"]  # we sent the BYE
    rest = [await t.receive() for _ in range(200)]  # frames still queued, then Hangup for ever
    assert isinstance(rest[-1], Hangup) and not any(isinstance(e, AudioIn) for e in rest[-100:])


async def test_busy_no_answer_and_unknown_number_through_the_dialer(tmp_path):
    from agent.dialing.base import DialTarget
    from agent.dialing.sip import SipDialer

    ran = []

    async def runner(call_id, transport):
        ran.append(call_id)

    with peer(tmp_path, quiet(5), [Callee("ringer", answermode="manual")]) as br:
        dialer = SipDialer(options(trunk_uri=f"sip:127.0.0.1:{br.port}", max_cps=50), runner, ring_timeout_s=1.5)
        try:
            target = DialTarget(call_id="c1", account_id="a1", phone="ringer", script_id="s", language="en")
            t0 = time.monotonic()
            silent = await dialer.dial(target)  # rings, nobody answers: our CANCEL
            ring_s = time.monotonic() - t0
            br.events.clear()
            dialing = asyncio.create_task(dialer.dial(target))
            await asyncio.to_thread(br.wait_event, "CALL_INCOMING")
            br.command("hangup")  # the callee rejects the ringing call
            busy = await dialing
            missing = await dialer.dial(DialTarget(call_id="c3", account_id="a1", phone="nobody", script_id="s",
                                                   language="en"))
        finally:
            await dialer.close()
    assert (silent.result, busy.result, missing.result) == ("no_answer", "busy", "invalid_number")
    assert 1.4 < ring_s < 4 and silent.detail.startswith("no answer within 1.5 s: CANCEL"), silent.detail
    assert "487" in silent.detail and busy.detail == "SIP 486 Rejected" and missing.detail == "SIP 404 Not Found"
    assert silent.provider_ref and busy.provider_ref and silent.call is None
    assert not ran  # no session for a call that never connected


@pytest.fixture
def scripted_callee():
    port = free_udp_port()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve().parents[1] / "sip_callee.py"), str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = []
        while (line := proc.stdout.readline()) and line.strip() != "ready":  # PJSIP logs its start first
            lines.append(line)
        assert line.strip() == "ready", lines
        yield port
    finally:
        proc.kill()
        proc.wait(5)


async def test_final_codes_map_to_results(scripted_callee, ua):
    got = {}
    for code in (480, 408, 403, 503, 600, 604, 484, 500):
        attempt = await ua.dial(f"code-{code}", uri_template=f"sip:{{phone}}@127.0.0.1:{scripted_callee}",
                                ring_timeout_s=5)
        got[code] = (attempt.answered, attempt.result, attempt.status)
    assert got == {480: (False, "no_answer", 480), 408: (False, "no_answer", 408),
                   403: (False, "trunk_refused", 403), 503: (False, "trunk_refused", 503),
                   600: (False, "busy", 600), 604: (False, "invalid_number", 604),
                   484: (False, "invalid_number", 484), 500: (False, "failed", 500)}


async def test_early_media_never_reaches_the_session(scripted_callee, ua):
    """183 with 2 s of a loud announcement as early media, then 200 OK and silence: the session hears
    none of the announcement (PJSIP did receive it: counted and dropped)."""
    attempt = await ua.dial("early-2", uri_template=f"sip:{{phone}}@127.0.0.1:{scripted_callee}", ring_timeout_s=8)
    assert attempt.answered, attempt.detail
    assert 1.9 < attempt.ring_s < 3
    assert attempt.extra["early_media_frames"] > 50 and attempt.extra["early_media_peak"] > 10000
    got = await collect(attempt.transport, 10)
    assert got["hangup"] is not None and len(got["frames"]) > 100
    assert max(int(np.abs(f).max()) for f in got["frames"]) < 200  # not one frame of the announcement


async def test_transfer_by_refer(tmp_path, ua):
    said = np.concatenate([quiet(0.5), tone(1000, 0.5)] * 10)
    with peer(tmp_path, said, [Callee("callee")]) as br, peer(tmp_path, quiet(30), [Callee("agent")], "desk") as desk:
        attempt = await ua.dial("callee", uri_template=f"sip:{{phone}}@127.0.0.1:{br.port}")
        assert attempt.answered
        t = attempt.transport
        assert await t.transfer(desk.uri("agent"))
        assert t.transfer_method == "refer" and t.transferred_to == desk.uri("agent")
        ev = await asyncio.wait_for(t.receive(), 5)
        while not isinstance(ev, Hangup):
            ev = await asyncio.wait_for(t.receive(), 5)
        assert ev.reason == "transferred"
        est = await asyncio.to_thread(desk.wait_event, "CALL_ESTABLISHED")
        await asyncio.to_thread(br.wait_event, "TRANSFER")
    assert est["peeruri"].startswith("sip:callee@")  # the callee itself called the desk
    assert [s for s, _, final in t.leg.st.transfer_events if final] == [200]


async def test_transfer_falls_back_to_a_bridge_when_refer_is_refused(tmp_path, ua):
    said = np.concatenate([quiet(0.5), tone(1000, 0.5)] * 8)
    with peer(tmp_path, said, [Callee("callee", extra=";call_transfer=no")]) as br, \
            peer(tmp_path, quiet(30), [Callee("agent")], "desk") as desk:
        attempt = await ua.dial("callee", uri_template=f"sip:{{phone}}@127.0.0.1:{br.port}")
        assert attempt.answered
        t = attempt.transport
        assert await t.transfer(desk.uri("agent"))
        assert t.transfer_method == "bridge"
        assert [s for s, _, final in t.leg.st.transfer_events if final] == [501]  # baresip refused REFER
        est = await asyncio.to_thread(desk.wait_event, "CALL_ESTABLISHED")
        # the callee's WAV ends -> it hangs up -> we hang up the desk's leg
        await asyncio.to_thread(desk.wait_event, "CALL_CLOSED", 20)
        _, desk_heard = desk.dumps()
    assert est["peeruri"].startswith("sip:dialwise@")  # we called the desk ourselves
    assert band_rms(desk_heard, 1000) > 1500, "the desk did not hear the callee through the bridge"


RAW_CALL_ID = "hostile-{n}@198.51.100.9"


def raw(method: str, uri: str, port: int, n: int, *, extra: str = "", body: str = "",
        content_length: int | None = None) -> bytes:
    head = (f"{method} {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-hostile{n}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:mallory@127.0.0.1>;tag=h{n}\r\nTo: <{uri}>\r\n"
            f"Call-ID: {RAW_CALL_ID.format(n=n)}\r\nCSeq: 1 {method}\r\n{extra}"
            f"Content-Length: {len(body.encode()) if content_length is None else content_length}\r\n\r\n")
    return (head + body).encode()


def exchange(sock, data: bytes, target: tuple[str, int], timeout: float = 2.0) -> int | None:
    """Send one datagram; the status code of the final answer to it (None: silence)."""
    sock.sendto(data, target)
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reply, _ = sock.recvfrom(65535)
        except OSError:
            return None
        code = int(reply.split(b" ", 2)[1])
        if code >= 200:  # (PJSIP retransmits a final answer to our INVITE until ACKed: harmless)
            return code
    return None


async def test_hostile_datagrams_neither_crash_nor_stall_the_user_agent(tmp_path):
    import socket

    with peer(tmp_path, np.concatenate([quiet(0.5), tone(1000, 0.5)] * 15), [Callee("callee")]) as br:
        agent = await SipUserAgent(options(trunk_uri=f"sip:callee@127.0.0.1:{br.port}", keepalive_s=0.5)).start()
        try:
            attempt = await agent.dial("callee", uri_template=f"sip:{{phone}}@127.0.0.1:{br.port}")
            assert attempt.answered
            t = attempt.transport
            listener = asyncio.create_task(collect(t, 12))
            me = ("127.0.0.1", agent.local_port)
            uri = f"sip:dialwise@127.0.0.1:{agent.local_port}"
            sdp_unknown = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                           "m=audio 49170 RTP/AVP 99\r\na=rtpmap:99 NOSUCHCODEC/8000\r\n")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]

                def run_all() -> dict[str, int | None]:
                    answers = {
                        "garbage": exchange(s, b"\x00\xff" * 700 + b"\r\n\r\n", me, 1.0),
                        "oversized_header": exchange(
                            s, raw("OPTIONS", uri, port, 1, extra=f"X-Junk: {'A' * 60000}\r\n"), me, 1.0),
                        "wrong_content_length": exchange(
                            s, raw("OPTIONS", uri, port, 2, body="hello", content_length=4000), me, 1.0),
                        "negative_content_length": exchange(
                            s, raw("OPTIONS", uri, port, 3, content_length=-5), me, 1.0),
                        "unknown_codec_offer": exchange(
                            s, raw("INVITE", uri, port, 4, body=sdp_unknown,
                                   extra=f"Contact: <sip:mallory@127.0.0.1:{port}>\r\n"
                                         "Content-Type: application/sdp\r\n"),
                            me),
                        "bye_unknown_dialog": exchange(
                            s, raw("BYE", uri, port, 5, extra="Route: <sip:127.0.0.1;lr>\r\n").replace(
                                b"To: <" + uri.encode() + b">", b"To: <" + uri.encode() + b">;tag=nosuchdialog"), me),
                        "no_via": exchange(
                            s, b"OPTIONS " + uri.encode() + b" SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n", me, 1.0),
                    }
                    answers["options_after"] = exchange(s, raw("OPTIONS", uri, port, 9), me)
                    return answers

                t0 = time.monotonic()
                answers = await asyncio.to_thread(run_all)
                elapsed = time.monotonic() - t0
            await asyncio.sleep(1.0)
            assert not t.ended, "the live call died"
            keepalive = agent.trunk.keepalive_code
            await t.hangup()
            got = await listener
        finally:
            await agent.close()
    print(answers, round(elapsed, 2))
    assert answers["options_after"] == 200  # still answering
    assert answers["unknown_codec_offer"] == 488  # Not Acceptable Here
    assert answers["bye_unknown_dialog"] == 481  # Call/Transaction Does Not Exist
    # PJSIP reads a datagram's body by its real size (answers 200) or drops it; either way no crash
    assert answers["wrong_content_length"] in (None, 200, 400)
    assert answers["oversized_header"] in (None, 200, 400, 413, 513)
    assert answers["garbage"] is None and answers["no_via"] is None
    assert keepalive == 200  # OPTIONS keepalive to the trunk kept being answered
    frames = got["frames"]
    assert len([f for f in frames if np.abs(f).max() > 4000]) > 50  # the callee's audio kept flowing


async def test_media_round_trip_through_both_jitter_buffers(tmp_path, ua):
    """What the SIP path adds to voice-to-voice: baresip plays short bursts; the transport's reader answers
    each one the moment its first loud frame arrives. Measured at baresip, from its recordings of what it
    said and heard: burst onset -> answer onset = PJSIP jitter buffer + our frame hand-over + pacer lead
    + RTP both ways + baresip's jitter buffer (the path a real callee's voice and our answer take)."""
    said = np.concatenate([quiet(1.0)] + [np.concatenate([tone(1000, 0.2), quiet(0.8)]) for _ in range(6)]
                          + [quiet(0.5)])
    with peer(tmp_path, said, [Callee("callee")]) as br:
        attempt = await ua.dial("callee", uri_template=f"sip:{{phone}}@127.0.0.1:{br.port}")
        t = attempt.transport
        loud_before = False
        while not isinstance(ev := await asyncio.wait_for(t.receive(), 10), Hangup):
            if isinstance(ev, AudioIn):
                loud = np.abs(ev.pcm).max() > 4000
                if loud and not loud_before:
                    await t.send_audio(tone(440, 0.1), RATE)
                loud_before = loud
        sent, heard = br.dumps()
    offset = len(sent) - len(heard)  # both recordings end with the call

    def onsets(pcm, shift=0):
        idx = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 3000)
        return [int(i) + shift for k, i in enumerate(idx) if k == 0 or i - idx[k - 1] > 2400]

    spoke, answered = onsets(sent), onsets(heard, offset)
    rtt = [min(a - s for a in answered if a > s) / 8 for s in spoke if any(a > s for a in answered)]
    print(json.dumps({"sip_round_trip_ms": [round(x) for x in rtt], "median_ms": round(float(np.median(rtt)))}))
    assert len(spoke) == 6 and len(rtt) == 6, (spoke, answered)
    assert float(np.median(rtt)) < 300, rtt

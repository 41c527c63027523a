"""The SIP test carrier (telephony_adapter/sim/sip_carrier.py, its own process) against our SIP user agent,
with no models: a recorded callee talks turn by turn and measures what it hears, busy, no answer, a
refusing trunk, DTMF, and the report of the control channel."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from telephony_adapter.base import AudioIn, DtmfIn, Hangup
from telephony_adapter.sim.procs import stop_process
from telephony_adapter.sip import SipOptions, SipUserAgent

pytestmark = pytest.mark.timeout(120)
pytest.importorskip("pjsua2", reason="the SIP carrier needs PJSIP's binding (pjsua2-python)")

RATE = 8000
# per-process options of the one PJSIP endpoint: the same as the other SIP test modules
PROCESS = dict(local_port=0, bind_address="127.0.0.1", rtp_port_min=42000, rtp_port_max=42999)
NUMBERS = {
    "+8613800000001": {"answer": "caller", "ring_s": 0.3,
                       "caller": {"clips": ["zh_001.wav", {"dtmf": "5"}], "end_of_prompt_s": 0.4,
                                  "human_delay_s": 0.2, "reply_timeout_s": 4}},
    "+8613800000002": {"answer": "busy", "ring_s": 0.3},
    "+8613800000003": {"answer": "no-answer"},
    "+8613800000004": {"answer": "reject", "code": 503, "ring_s": 0.1},
}


class Carrier:
    def __init__(self, proc: subprocess.Popen, sip_port: int, http_port: int) -> None:
        self.proc, self.sip_port, self.http_port = proc, sip_port, http_port

    @property
    def trunk(self) -> str:
        return f"sip:127.0.0.1:{self.sip_port}"

    def calls(self) -> dict[str, dict[str, Any]]:
        rows = httpx.get(f"http://127.0.0.1:{self.http_port}/calls", timeout=5).json()
        return {r["sip_call_id"]: r for r in rows}


def start_carrier(tmp: Path, numbers: dict[str, Any], rtp_port: int = 43000) -> Carrier:
    (tmp / "numbers.json").write_text(json.dumps(numbers))
    proc = subprocess.Popen([sys.executable, "-m", "telephony_adapter.sim.sip_carrier", "--port", "0",
                             "--numbers", str(tmp / "numbers.json"), "--rtp-port", str(rtp_port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    lines = []
    while (line := proc.stdout.readline()) and not line.startswith("ready "):  # PJSIP logs its start first
        lines.append(line)
    assert line.startswith("ready "), lines
    ports = dict(kv.split("=") for kv in line.split()[1:])
    return Carrier(proc, int(ports["sip"]), int(ports["http"]))


@pytest.fixture
def carrier(tmp_path) -> Iterator[Carrier]:
    c = start_carrier(tmp_path, NUMBERS)
    try:
        yield c
    finally:
        stop_process(c.proc, grace_s=10)
    assert c.proc.returncode in (0, -15), c.proc.returncode  # a clean stop on SIGTERM


def tone(seconds: float, freq: float = 440.0) -> np.ndarray:
    return (np.sin(2 * np.pi * freq * np.arange(int(seconds * RATE)) / RATE) * 8000).astype(np.int16)


async def test_recorded_callee_talks_after_the_agent_and_measures_what_it_hears(carrier):
    """The agent greets; the callee waits until it is done, says its clip, and presses 5; the agent answers
    each 200 ms after the callee's words end. The carrier reports the greeting and voice-to-voice as heard."""
    ua = await SipUserAgent(SipOptions(**PROCESS, keepalive_s=0, trunk_uri=carrier.trunk)).start()
    try:
        attempt = await ua.dial("+8613800000001")
        assert attempt.answered, attempt.detail
        t = attempt.transport
        await t.send_audio(tone(0.6), RATE)  # the greeting
        loud_frames = quiet_run = 0
        replied_at: list[float] = []
        digits: list[str] = []
        while True:
            ev = await asyncio.wait_for(t.receive(), 15)
            if isinstance(ev, Hangup):
                break
            if isinstance(ev, DtmfIn):
                digits.append(ev.digit)
                await t.send_audio(tone(0.4), RATE)
            elif isinstance(ev, AudioIn):
                if np.sqrt(np.mean(ev.pcm.astype(np.float64) ** 2)) > 300:
                    loud_frames, quiet_run = loud_frames + 1, 0
                else:
                    quiet_run += 1
                    if loud_frames > 10 and quiet_run == 10:  # the callee stopped talking 200 ms ago
                        loud_frames = 0
                        replied_at.append(time.monotonic())
                        await t.send_audio(tone(0.5), RATE)
        assert t.far_end_hung_up  # the callee hung up after our last reply
        # PJSIP's media threads were given SIP_MEDIA_THREAD_NICE (-10), or say why not (no CAP_SYS_NICE)
        threads = ua.started_stack().media_threads
        assert set(threads) == {"clock", "media"}, threads
        assert all(v == -10 or str(v).startswith("refused") for v in threads.values()), threads
        timing = attempt.leg.timing.as_dict()
        assert timing["handover_ms"]["n"] > 50 and timing["outq_first_frame_wait_ms"]["n"] >= 2, timing
        assert timing["outq_first_frame_wait_ms"]["max"] < 1000, timing
    finally:
        await ua.close()
    assert digits == ["5"] and len(replied_at) == 1
    rec = carrier.calls()[attempt.sip_call_id]
    rep = rec["caller"]
    assert rec["number"] == "+8613800000001" and rec["final_code"] in (200, 0) and rec["codec"] == "PCMA"
    assert rec["ended_by"] == "caller" and rec["dtmf_sent"] == ["5"]
    assert rep["clips_played"] == ["zh_001.wav"] and rep["no_reply"] == 0 and rep["overlaps"] == 0
    assert rep["greeting_ms"] is not None and rep["greeting_ms"] < 400, rep
    # two turns (the clip, the key press): 200 ms of our end-of-speech wait (clip only) + the SIP path
    assert len(rep["v2v_ms"]) == 2, rep
    assert 200 <= rep["v2v_ms"][0] < 600 and rep["v2v_ms"][1] < 500, rep
    assert 0.9 < rep["voiced_s"] < 1.8  # our 0.6 + 0.5 + 0.4 s of tone, nothing doubled


async def test_busy_no_answer_and_a_refusing_trunk(carrier):
    ua = await SipUserAgent(SipOptions(**PROCESS, keepalive_s=0, trunk_uri=carrier.trunk)).start()
    try:
        busy = await ua.dial("+8613800000002")
        silent = await ua.dial("+8613800000003", ring_timeout_s=1.0)
        refused = await ua.dial("+8613800000004")
        unknown = await ua.dial("+8613800000009")
    finally:
        await ua.close()
    got = {a.result: a.status for a in (busy, silent, refused, unknown)}
    assert got == {"busy": 486, "no_answer": 487, "trunk_refused": 503, "invalid_number": 404}
    calls = carrier.calls()
    assert calls[silent.sip_call_id]["final_code"] == 487 and calls[silent.sip_call_id]["state"] == "ended"
    assert calls[busy.sip_call_id]["caller"] is None  # nobody talked


async def test_dials_beyond_the_process_s_sip_calls_wait_instead_of_failing(tmp_path):
    """pjsua2's wheel holds 4 calls per process (PJSUA_MAX_CALLS): 6 dials at once all connect, at most 4 live."""
    from agent.dialing.base import DialTarget
    from agent.dialing.sip import PJSUA_MAX_CALLS, SipDialer

    numbers = {f"+86138000001{i:02d}": {"answer": "caller", "ring_s": 0.1, "caller": {"clips": []}} for i in range(6)}
    carrier = start_carrier(tmp_path, numbers, rtp_port=43400)
    live, peak = 0, 0

    async def runner(call_id, transport):
        nonlocal live, peak
        live += 1
        peak = max(peak, live)
        await asyncio.sleep(0.8)
        live -= 1

    dialer = SipDialer(SipOptions(**PROCESS, keepalive_s=0, trunk_uri=carrier.trunk, max_cps=50), runner)
    try:
        outcomes = await asyncio.gather(*(dialer.dial(DialTarget(
            call_id=f"c{i}", account_id="a", phone=number, script_id="s", language="zh"))
            for i, number in enumerate(numbers)))
    finally:
        await dialer.close()
        stop_process(carrier.proc, grace_s=10)
    assert [o.result for o in outcomes] == ["answered"] * 6, [o.detail for o in outcomes]
    assert PJSUA_MAX_CALLS == 4 and peak == 4


async def test_an_invite_while_every_pjsip_call_slot_is_taken_waits_for_one_to_free(tmp_path):
    """PJSIP frees an ended call's slot only after it reported DISCONNECTED: an INVITE in between is refused
    with PJ_ETOOMANY. The user agent retries it (up to CALL_SLOT_WAIT_S) instead of failing the dial."""
    from telephony_adapter.sip.ua import CALL_SLOT_WAIT_S

    numbers = {f"+86138000002{i:02d}": {"answer": "caller", "ring_s": 0.05, "caller": {"clips": []}}
               for i in range(5)}
    carrier = start_carrier(tmp_path, numbers, rtp_port=43600)
    ua = await SipUserAgent(SipOptions(**PROCESS, keepalive_s=0, trunk_uri=carrier.trunk)).start()
    try:
        phones = list(numbers)
        held = [await ua.dial(p) for p in phones[:4]]  # every slot of the wheel's PJSUA_MAX_CALLS = 4
        assert all(a.answered for a in held), [a.detail for a in held]
        fifth = asyncio.ensure_future(ua.dial(phones[4]))
        await asyncio.sleep(0.4)
        assert not fifth.done()  # waiting for a slot, not failed
        await held[0].transport.close("done")  # BYE: the slot frees once PJSIP has dropped the call
        attempt = await asyncio.wait_for(fifth, CALL_SLOT_WAIT_S + 5)
        assert attempt.answered, attempt.detail
        assert attempt.ring_s >= 0.4
        for a in (*held[1:], attempt):
            await a.transport.close("done")
    finally:
        await ua.close()
        stop_process(carrier.proc, grace_s=10)

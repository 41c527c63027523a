"""The baresip callee of `bench networks` (telephony_adapter/sim/baresip_callee.py): finding its clips in what
it said, voice-to-voice from its recordings, and, against our SIP user agent, the turn it measures lined
up with the agent side's own clock."""
from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from telephony_adapter.base import AudioIn, Hangup
from telephony_adapter.sim.baresip import Baresip, Callee, ensure_baresip, write_wav8k
from telephony_adapter.sim.baresip_callee import find_clip, measure, run_callee
from telephony_adapter.sim.baresip_line import Line
from telephony_adapter.sim.callee_turns import CallerBehaviour
from telephony_adapter.sip import SipOptions, SipUserAgent

RATE = 8000
PROCESS = dict(local_port=0, bind_address="127.0.0.1", rtp_port_min=42000, rtp_port_max=42999)


def tone(freq: float, seconds: float, amp: float = 8000) -> np.ndarray:
    return (np.sin(2 * np.pi * freq * np.arange(int(seconds * RATE)) / RATE) * amp).astype(np.int16)


def quiet(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.int16)


def words(seed: int, seconds: float = 0.6) -> np.ndarray:
    """A 'clip': noise-like speech with a quiet tail, as recordings have."""
    rng = np.random.default_rng(seed)
    return np.concatenate([quiet(0.1), (rng.standard_normal(int(seconds * RATE)) * 3000).astype(np.int16),
                           quiet(0.5)])


def test_find_clip_is_sample_exact_and_in_order():
    a, b = words(1), words(2)
    said = np.concatenate([quiet(1.0), a, quiet(0.7), b, quiet(0.3), a, quiet(0.2)])
    first = find_clip(said, a)
    assert first == 8000
    second = find_clip(said, b, first + len(a))
    assert second == 8000 + len(a) + 5600
    assert find_clip(said, a, second) == second + len(b) + 2400  # the repeat, not the first one
    assert find_clip(said, words(3)) is None


def test_measure_times_each_reply_from_the_end_of_the_words():
    a, b = words(1), words(2)
    said = np.concatenate([quiet(1.0), a, quiet(2.0), b, quiet(2.0)])
    heard = np.zeros(len(said) + 1600, np.int16)  # this dump started 0.2 s later: its t0 says so
    t_said, t_heard = 100.0, 100.0 + 0.2
    ends = [8000 + 800 + 4800, 8000 + len(a) + 16000 + 800 + 4800]  # last voiced sample of each clip (+1)
    for end, reply_ms in zip(ends, (300, 460), strict=True):
        at = int((t_said + end / RATE + reply_ms / 1000 - t_heard) * RATE) - 160
        heard[at: at + 4000] = tone(300, 0.5)
    heard[1600: 1600 + 800] = tone(300, 0.1)  # a greeting, before the first clip
    said_at, heard_at = (lambda k: t_said + (k + 1) / RATE), (lambda k: t_heard + (k + 1) / RATE)
    got = measure(said, heard, [a, b], said_at=said_at, heard_at=heard_at, answered_at=t_heard)
    assert got["unfound_clips"] == 0 and got["overlaps"] == 0 and got["no_reply"] == 0
    assert [round(x / 20) * 20 for x in got["v2v_ms"]] == [300, 460], got["v2v_ms"]
    assert all(abs(x - r) <= 20 for x, r in zip(got["v2v_ms"], (300, 460), strict=True))
    assert got["reply_heard_at"][0] - got["turn_end_at"][0] == pytest.approx(got["v2v_ms"][0] / 1000, abs=1e-3)
    assert 200 <= got["greeting_ms"] <= 220
    # the agent still talking at the end of the words: an overlap, not a latency
    heard[int((t_said + ends[1] / RATE - 0.05 - t_heard) * RATE):][:800] = tone(300, 0.1)
    again = measure(said, heard, [a, b], said_at=said_at, heard_at=heard_at)
    assert again["overlaps"] == 1 and len(again["v2v_ms"]) == 1


@pytest.mark.timeout(120)
async def test_a_baresip_callee_measures_turns_on_the_agents_clock(tmp_path):
    """Our user agent dials baresip; the callee speaks two clips turn by turn; the agent side answers each
    clip 300 ms after its words end, as it hears them. What baresip measures must lie just above 300 ms,
    and its turn ends and replies must fall around the agent side's own moments on time.monotonic()."""
    if ensure_baresip() is None:
        pytest.skip("baresip is not installed and cannot be (needs apt-get as root)")
    clip_a, clip_b = words(1), words(2)
    folder = tmp_path / "clips"
    folder.mkdir()
    names = [str(write_wav8k(folder / f"c{i}.wav", c)) for i, c in enumerate((clip_a, clip_b))]
    mic = write_wav8k(tmp_path / "quiet.wav", quiet(120))
    with Baresip(tmp_path / "br", mic, [Callee("callee", answermode="manual", codecs="PCMU",
                                               audio_source=str(mic))]) as br:
        ua = await SipUserAgent(SipOptions(**PROCESS, keepalive_s=0)).start()
        try:
            behaviour = CallerBehaviour(clips=names, end_of_prompt_s=0.5, human_delay_s=0.2)
            callee = asyncio.create_task(run_callee(Line(br, "callee", tmp_path), behaviour, asyncio.Lock()))
            attempt = await ua.dial("callee", uri_template=f"sip:{{phone}}@127.0.0.1:{br.port}")
            t = attempt.transport
            await t.send_audio(tone(440, 0.8), RATE)  # the greeting
            heard_end, replied = [], []
            loud_since, last_loud = None, 0.0
            while not isinstance(ev := await asyncio.wait_for(t.receive(), 30), Hangup):
                if not isinstance(ev, AudioIn):
                    continue
                now = time.monotonic()
                if np.abs(ev.pcm).max() > 1500:
                    loud_since, last_loud = loud_since or now, now
                elif loud_since is not None and now - last_loud >= 0.3:
                    heard_end.append(last_loud)
                    replied.append(now)
                    await t.send_audio(tone(440, 0.8), RATE)  # the reply, 300 ms after the words end
                    loud_since = None
            report = await asyncio.wait_for(callee, 30)
        finally:
            await ua.close()
    assert report["call_id"] == attempt.sip_call_id and not report.get("error"), report
    assert report["clips_played"] == ["c0.wav", "c1.wav"] and report["unfound_clips"] == 0, report
    assert len(report["v2v_ms"]) == 2 and len(heard_end) == 2, (report, heard_end)
    for v2v in report["v2v_ms"]:
        assert 300 <= v2v < 550, report["v2v_ms"]  # our 300 ms, plus RTP, both jitter buffers and a frame
    for end, ours in zip(report["turn_end_at"], heard_end, strict=True):
        assert -0.03 <= ours - end <= 0.25, (ours, end)  # the words reach us after baresip sent them
    for heard, ours in zip(report["reply_heard_at"], replied, strict=True):
        assert 0.0 <= heard - ours <= 0.25, (heard, ours)  # and our reply reaches baresip after we sent it
    print(report["v2v_ms"], [round(o - e, 3) for o, e in zip(heard_end, report["turn_end_at"], strict=True)],
          [round(h - o, 3) for h, o in zip(report["reply_heard_at"], replied, strict=True)], report["greeting_ms"])
    assert report["greeting_ms"] is not None and 0 <= report["greeting_ms"] < 1000, report


@pytest.mark.parametrize("arms, message", [("twilio,pstn", "--arms takes some of"), (",", "--arms takes some of")])
def test_bench_networks_refuses_unknown_arms_in_one_line(arms, message):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "agent", "bench", "networks", "--arms", arms],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert out.stdout == ""  # no stack was started, nothing half-measured printed


def test_bench_networks_pairs_the_same_turn_with_the_same_wait():
    from agent.dialing.bench_capacity import paired_turns

    def level(*turns):
        return {"samples": {"turns": list(turns)}}

    twilio = [level((0, 0, 400, 450.0), (0, 1, 900, 960.0), (0, 2, 900, 980.0)), level((0, 0, 400, 440.0))]
    sip = [level((0, 0, 400, 480.0), (0, 1, 900, 1000.0), (0, 2, 400, 470.0)), level((0, 0, 410, 470.0))]
    got = paired_turns(sip, twilio, 1)
    assert got["diff_ms"]["n"] == 3  # turn 2 of round 1 waited 400 ms here and 900 there: not the same turn
    assert got["diff_ms"]["p50"] == 30.0 and got["heard_p95_minus_twilio"] is not None
    assert paired_turns(sip, twilio, 4)["diff_ms"]["n"] == 0  # several calls a level: no pairing


def test_free_sip_port_skips_a_port_whose_tls_neighbour_is_taken():
    import random
    import socket

    from telephony_adapter.sim import baresip as br

    port = br.free_sip_port(random.Random(7))
    with socket.socket() as held:
        held.bind(("127.0.0.1", port + 1))  # baresip's TLS transport binds sip_listen's port + 1
        assert br.free_sip_port(random.Random(7)) != port
    assert br.SIP_PORTS[0] <= port < br.SIP_PORTS[1]


def test_baresip_starts_on_new_ports_when_its_first_ones_are_taken(tmp_path, monkeypatch):
    """CI saw `ua: SIP/TLS transport failed: Address already in use`: a port taken after it was chosen."""
    import socket

    from telephony_adapter.sim import baresip as br

    if ensure_baresip() is None:
        pytest.skip("baresip unavailable: apt-get could not install it here")
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    taken = held.getsockname()[1] - 1
    picks = iter([taken])
    real = br.free_sip_port
    monkeypatch.setattr(br, "free_sip_port", lambda rng=None: next(picks, None) or real())
    wav = write_wav8k(tmp_path / "mic.wav", quiet(0.5))
    try:
        b = Baresip(tmp_path / "b", wav, [Callee()])
        assert b.port == taken
        with b:
            assert b.port != taken
            assert b.proc is not None and b.proc.poll() is None
    finally:
        held.close()

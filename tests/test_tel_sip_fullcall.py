"""Full calls over SIP with the real call session (Whisper, NLU, scripts, TTS via agent.calls.run_call),
placed by SipDialer to a real baresip callee.

The callee's side is recorded speech: baresip's microphone is a WAV, switched turn by turn with its
`ausrc` command once the agent has finished speaking (each WAV ends in a long silence; the last one
may end mid-sentence, and baresip hangs up when its WAV ends). baresip's `sndfile` filter records
what it said and what it heard; the voice-to-voice figures come from those two recordings.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from tests.sip_peer import Baresip, Callee, ensure_baresip, write_wav8k

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
if ensure_baresip() is None:
    pytest.skip("baresip is not installed and cannot be (needs apt-get as root)", allow_module_level=True)

VOICES = Path(__file__).resolve().parent.parent / "telephony_adapter" / "sim" / "voices"
PROCESS = dict(local_port=0, bind_address="127.0.0.1", rtp_port_min=42000, rtp_port_max=42999, keepalive_s=0)
TODAY = date(2026, 11, 1)


def clip(name: str) -> tuple[np.ndarray, str, str]:
    """(8 kHz speech, text, intent) of a recorded callee line."""
    from speech.audio import read_audio, to_int16

    item = next(m for m in map(json.loads, (VOICES / "manifest.jsonl").read_text().splitlines()) if m["file"] == name)
    return to_int16(read_audio(VOICES / name, target_rate=8000)[0]), item["text"], item["intent"]


class Spy:
    """The session's transport, with a note of when the agent's audio will have finished playing."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.play_end = 0.0
        self.sends = 0

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def send_audio(self, pcm, sample_rate):
        now = time.monotonic()
        self.play_end = max(self.play_end, now) + len(pcm) / sample_rate
        self.sends += 1
        await self._inner.send_audio(pcm, sample_rate)

    async def clear(self):
        self.play_end = time.monotonic()
        await self._inner.clear()


class Callee_:
    """Drives baresip turn by turn."""

    def __init__(self, br: Baresip, folder: Path) -> None:
        self.br, self.folder, self.n = br, folder, 0
        self.spy: Spy | None = None
        self.since = 0  # agent sends seen before the callee's last action

    async def agent_done(self, timeout: float = 60, quiet_s: float = 1.0) -> None:
        """Wait until the agent has spoken since the callee's last action and been quiet for `quiet_s`."""
        deadline = time.monotonic() + timeout
        while True:
            assert time.monotonic() < deadline, "the agent never finished speaking"
            spy = self.spy
            if spy is not None and (
                    spy.ended or (spy.sends > self.since and time.monotonic() > spy.play_end + quiet_s)):
                return
            await asyncio.sleep(0.05)

    def _act(self) -> None:
        self.since = self.spy.sends  # the agent's answer is what it sends after this

    def say(self, pcm: np.ndarray, tail_s: float = 60.0) -> None:
        self._act()
        self.n += 1
        wav = write_wav8k(self.folder / f"turn{self.n}.wav",
                          np.concatenate([pcm, np.zeros(int(tail_s * 8000), np.int16)]))
        self.br.command("ausrc", f"aufile,{wav}")

    async def press(self, keys: str) -> None:
        self._act()
        await asyncio.to_thread(self.br.keys, keys)


def account(db_url: str, lang: str) -> str:
    from agent.store import session_scope
    from agent.store.models import Account

    zh = lang == "zh"
    with session_scope(db_url) as s:
        acc = Account(name="王芳" if zh else "Emily Johnson", phone="+8613800138000" if zh else "+12125550123",
                      timezone="Asia/Shanghai" if zh else "America/New_York", jurisdiction="CN" if zh else "US",
                      language=lang, purpose="collections", bucket="M1", balance=2000.0 if zh else 450.0,
                      currency="CNY" if zh else "USD", due_date=date(2026, 11, 13), days_past_due=10, id_last4="1234")
        s.add(acc)
        s.flush()
        return acc.id


def stored(db_url: str, call_id: str):
    from agent.store import session_scope
    from agent.store.models import Call, Turn

    with session_scope(db_url) as s:
        c = s.get(Call, call_id)
        ts = s.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.seq))
        return ((c.status, c.end_reason, c.transport, c.outcome),
                [(t.speaker, t.text, t.intent, dict(t.latency or {})) for t in ts])


def segments(pcm: np.ndarray, shift: int = 0, gap: int = 6400) -> list[tuple[int, int]]:
    """(start, end) sample positions of voiced stretches (gaps shorter than `gap` samples bridged)."""
    frame = 160
    loud = [i for i in range(0, len(pcm) - frame, frame) if np.abs(pcm[i:i + frame]).max() > 1500]
    runs, start = [], None
    for a, b in itertools.pairwise(loud + [10 ** 12]):
        start = a if start is None else start
        if b - a > gap:
            runs.append((start + shift, a + frame + shift))
            start = None
    return runs


def timeline(said: np.ndarray, heard: np.ndarray) -> dict[str, list]:
    """Who spoke when at baresip, in seconds from the start of its recording (for diagnosis)."""
    offset = len(said) - len(heard)

    def sec(runs: list[tuple[int, int]]) -> list[tuple[float, float]]:
        return [(round(a / 8000, 2), round(b / 8000, 2)) for a, b in runs]

    return {"callee": sec(segments(said)), "agent": sec(segments(heard, offset, 4000))}


def voice_to_voice(said: np.ndarray, heard: np.ndarray, n_turns: int) -> list[float]:
    """From the end of each callee line (in what baresip sent) to the first agent audio after it (in what
    baresip heard). The two recordings end together (the call's end), so they are aligned by their ends."""
    offset = len(said) - len(heard)  # heard[i] happened at said[i + offset]
    frame = 160
    runs = segments(said)  # callee lines: voiced frames with gaps < 0.8 s
    out = []
    for _, end in runs[:n_turns]:
        j = max(0, end - offset)
        agent = [i for i in range(j, len(heard) - frame, frame) if np.abs(heard[i:i + frame]).max() > 1500]
        if agent:
            out.append(round((agent[0] - j) / 8000 * 1000, 0))
    return out


async def run_full_call(tmp_path, db_url, lang: str, script):
    """Place a SIP call to baresip through SipDialer; `script(callee)` plays the callee's part."""
    from agent.calls import create_call, get_deps, run_call
    from agent.dialing.base import DialTarget
    from agent.dialing.sip import SipDialer
    from dialogs.library import script_for
    from telephony_adapter.sip import SipOptions

    await asyncio.to_thread(get_deps)  # models first, as a worker does, then dial
    acc = account(db_url, lang)
    script_id = script_for("collections", "M1", lang)
    call_id = create_call(acc, script_id, "sip", db_url=db_url)
    wav = write_wav8k(tmp_path / "quiet.wav", np.zeros(8000 * 120, np.int16))
    with Baresip(tmp_path / "br", wav, [Callee("callee")]) as br:
        callee = Callee_(br, tmp_path)

        async def runner(cid, transport):
            callee.spy = Spy(transport)
            return await run_call(cid, callee.spy, today=TODAY, db_url=db_url)

        dialer = SipDialer(SipOptions(trunk_uri=f"sip:127.0.0.1:{br.port}", caller_id="+861088880000", **PROCESS),
                           runner, uri_template=f"sip:callee@127.0.0.1:{br.port};phone={{phone}}")
        try:
            dial = asyncio.create_task(dialer.dial(DialTarget(call_id, acc, "+8613800138000", script_id, lang)))
            while callee.spy is None:
                assert not dial.done(), dial.result()
                await asyncio.sleep(0.05)
            await script(callee)
            outcome = await asyncio.wait_for(dial, 120)
        finally:
            await dialer.close()
        await asyncio.to_thread(br.wait_event, "CALL_CLOSED")
        said, heard = br.dumps()
    return call_id, outcome, said, heard


async def test_zh_full_call_with_dtmf_at_the_identity_question(tmp_path, settings_env, db_url):
    ident, _, _ = clip("zh_000.wav")  # 喂，我是王芳，请问什么事
    pay, _, _ = clip("zh_016.wav")  # 我明天下午把两千块钱还上
    yes, _, _ = clip("zh_007.wav")  # 好的，没问题

    async def callee_part(c: Callee_) -> None:
        await c.agent_done()  # the opening: ... 请问您是王芳本人吗？
        c.say(ident)
        await c.agent_done()  # ask_last4: 请说一下您身份证号码的最后四位
        await c.press("1234")  # keyed, not said: RFC 4733 from baresip
        await c.agent_done()  # the amount due and the ask
        c.say(pay)
        await c.agent_done()  # the read-back
        c.say(yes)

    t0 = time.monotonic()
    call_id, outcome, said, heard = await run_full_call(tmp_path, db_url, "zh", callee_part)
    state, turns = stored(db_url, call_id)
    callee = [t for t in turns if t[0] == "callee"]
    v2v = voice_to_voice(said, heard, 3)
    print(json.dumps({"lang": "zh", "wall_s": round(time.monotonic() - t0, 1), "voice_to_voice_at_baresip_ms": v2v,
                      "session_voice_to_voice_ms": [t[3].get("voice_to_voice_ms") for t in callee],
                      "timeline_s": timeline(said, heard),
                      "turns": [(t[0], t[1], t[2]) for t in turns]}, ensure_ascii=False))
    assert outcome.result == "answered" and outcome.provider_ref and outcome.call is not None
    assert outcome.extra["codec"] == "PCMA"  # A-law first: what the trunks in China speak
    assert state[0] == "ended" and state[2] == "sip", state
    assert state[3] == "ptp" and outcome.call.outcome == "ptp", (state, turns)
    assert callee[0][2] == "confirm_identity" and "王芳" in callee[0][1], callee
    assert any(t[1] == "[keypad 4 digits]" for t in callee), callee  # the keyed ID (never its digits) as a turn
    assert any(t[2] == "promise_to_pay" for t in callee), callee
    assert len(v2v) == 3 and all(300 < v < 5000 for v in v2v), v2v


async def test_en_full_call_callee_hangs_up_mid_sentence(tmp_path, settings_env, db_url):
    ident, _, _ = clip("en_040.wav")  # Hello, yes, this is Emily speaking.
    pay, _, _ = clip("en_056.wav")  # I can pay two hundred dollars tomorrow afternoon.
    voiced = np.flatnonzero(np.abs(pay.astype(np.int32)) > 1000)
    cut = pay[: voiced[0] + int(0.6 * (voiced[-1] - voiced[0]))]  # stops mid-sentence

    async def callee_part(c: Callee_) -> None:
        await c.agent_done()
        c.say(ident)
        await c.agent_done()  # the ID question
        c.say(cut, tail_s=0)  # ... and the line goes dead: baresip hangs up at the end of its WAV

    call_id, outcome, said, heard = await run_full_call(tmp_path, db_url, "en", callee_part)
    state, turns = stored(db_url, call_id)
    callee = [t for t in turns if t[0] == "callee"]
    v2v = voice_to_voice(said, heard, 1)
    print(json.dumps({"lang": "en", "voice_to_voice_at_baresip_ms": v2v,
                      "session_voice_to_voice_ms": [t[3].get("voice_to_voice_ms") for t in callee],
                      "timeline_s": timeline(said, heard),
                      "turns": [(t[0], t[1], t[2]) for t in turns]}))
    assert outcome.result == "answered" and outcome.extra["far_end_hung_up"]
    assert state[0] == "ended" and state[1] == "hangup" and state[2] == "sip", state
    assert callee[0][2] == "confirm_identity" and "emily" in callee[0][1].lower(), callee
    assert len(callee) == 2 and callee[1][1], callee  # the cut-off line was kept
    assert "pay" in callee[1][1].lower() or "two hundred" in callee[1][1].lower(), callee
    assert len(v2v) == 1 and 300 < v2v[0] < 5000, v2v

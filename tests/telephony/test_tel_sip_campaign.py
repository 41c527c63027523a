"""Campaigns on the `sip` network, dialled by a real `dialwise worker` process (embedded queue on SQLite)
through the gated dial path and its SipDialer, to real baresip callees (one baresip, one account each):

- 王芳 (zh, her phone speaks A-law only): a full call with the real models: she confirms who she is,
  keys the ID's last four digits (RFC 4733) at the identity question, promises to pay, agrees to the
  read-back; the call is stored with its turns and the outcome ptp;
- Emily (en, μ-law only) on one phone: the whole call as 王芳's (keyed digits too), outcome ptp;
- Emily on another (μ-law only): confirms, then starts to answer the ID question and hangs up mid-sentence;
  the cut-off line is kept as her turn and the call ends `hangup`;
- a busy phone (refuses while it rings: 486) and one nobody answers (our CANCEL after RING_TIMEOUT_S):
  their attempts end busy / no_answer with a retry planned for later.

Both campaigns run at once in the one worker (4 lines); the English one dials one call at a time. The
worker offers PCMA,PCMU (SIP_CODECS); each answered attempt's detail names the codec the call used. The
calls' voice-to-voice as heard at baresip is printed (`-s`), not asserted: benches measure it
(`dialwise bench networks`).
"""
from __future__ import annotations

import asyncio
import itertools
import json
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from telephony_adapter.sim.baresip import Baresip, Callee, ensure_baresip, free_udp_port, write_wav8k
from telephony_adapter.sim.baresip_line import Line
from tests.dial_support import zone_at_local_hour
from tests.worker_support import ROOT, make_sqlite, stop, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]
if ensure_baresip() is None:
    pytest.skip("baresip is not installed and cannot be (needs apt-get as root)", allow_module_level=True)

VOICES = ROOT / "telephony_adapter" / "sim" / "voices"
ZH, EN, BUSY, NOANSWER = "+8613800138000", "+12125550123", "+8613900139001", "+12125550002"
EN_FULL = "+12125550124"  # Emily on another phone: the whole call in English
RING_TIMEOUT_S = 4


def clip(name: str) -> np.ndarray:
    """A recorded callee line, 8 kHz."""
    from speech.audio import read_audio, to_int16

    return to_int16(read_audio(VOICES / name, target_rate=8000)[0])


def segments(pcm: np.ndarray, shift: int = 0, gap: int = 6400) -> list[tuple[int, int]]:
    """(start, end) sample positions of voiced stretches (gaps shorter than `gap` samples bridged)."""
    loud = [i for i in range(0, len(pcm) - 160, 160) if np.abs(pcm[i:i + 160]).max() > 1500]
    runs, start = [], None
    for a, b in itertools.pairwise(loud + [10 ** 12]):
        start = a if start is None else start
        if b - a > gap:
            runs.append((start + shift, a + 160 + shift))
            start = None
    return runs


def voice_to_voice(said: np.ndarray, heard: np.ndarray) -> list[float]:
    """From the end of each callee line (what baresip sent) to the first agent audio after it (what it
    heard). Both dumps end with the call, so they are aligned by their ends."""
    offset = len(said) - len(heard)
    out = []
    for _, end in segments(said):
        j = max(0, end - offset)
        agent = [i for i in range(j, len(heard) - 160, 160) if np.abs(heard[i:i + 160]).max() > 1500]
        if agent:
            out.append(round((agent[0] - j) / 8000 * 1000))
    return out


def seed(url: str) -> dict[str, str]:
    """The four accounts, in their calling hours now; two running campaigns on the sip network."""
    from agent.campaign_control import create_campaign, move_campaign
    from agent.store import session_scope
    from agent.store.models import Account
    from dialogs.library import script_for

    ids = {}
    with session_scope(url) as s:
        for phone in (ZH, BUSY, EN, NOANSWER, EN_FULL):
            zh = phone.startswith("+86")
            acc = Account(name="王芳" if zh else "Emily Johnson", phone=phone, timezone=zone_at_local_hour(11),
                          jurisdiction="CN" if zh else "US", language="zh" if zh else "en", purpose="collections",
                          bucket="M1", balance=2000.0 if zh else 450.0, currency="CNY" if zh else "USD",
                          due_date=date.today() - timedelta(days=10), days_past_due=10, id_last4="1234",
                          consent_calls=True)
            s.add(acc)
            s.flush()
            ids[phone] = acc.id
        for lang, phones in (("zh", (ZH, BUSY)), ("en", (EN, NOANSWER, EN_FULL))):
            # the English calls one at a time: the worker's four lines never all hold a conversation at once
            camp = create_campaign(s, name=f"sip {lang}", network="sip", max_attempts=3,
                                   max_concurrent=2 if lang == "zh" else 1,
                                   script_id=script_for("collections", "M1", lang),
                                   account_ids=[ids[p] for p in phones])
            move_campaign(s, camp.id, "start")
    return ids


def attempts(url: str) -> list:
    from agent.store import session_scope
    from agent.store.models import Attempt

    with session_scope(url) as s:
        rows = s.scalars(select(Attempt).order_by(Attempt.attempt_no)).all()
        return [(a.account_id, a.attempt_no, a.status, a.result, a.detail, a.not_before, a.network) for a in rows]


def stored_call(url: str, account_id: str):
    from agent.store import session_scope
    from agent.store.models import Call, Turn

    with session_scope(url) as s:
        c = s.scalars(select(Call).where(Call.account_id == account_id)).one()
        turns = s.scalars(select(Turn).where(Turn.call_id == c.id).order_by(Turn.seq)).all()
        return ({"status": c.status, "end_reason": c.end_reason, "transport": c.transport, "outcome": c.outcome,
                 "worker_id": c.worker_id},
                [(t.speaker, t.text, t.intent, dict(t.latency or {})) for t in turns])


def spawn_sip_worker(url: str, tmp: Path, trunk_port: int) -> subprocess.Popen:
    rtp = random.randrange(44000, 58000, 1000)  # a block of its own: parallel runs rarely meet
    env = worker_env(url, tmp, SIP_TRUNK_URI=f"sip:127.0.0.1:{trunk_port}", SIP_LOCAL_PORT=str(free_udp_port()),
                     SIP_PUBLIC_ADDRESS="127.0.0.1", SIP_RTP_PORT_MIN=str(rtp), SIP_RTP_PORT_MAX=str(rtp + 199),
                     SIP_CALLER_ID="02188886666", SIP_MAX_CPS="5", SIP_CODECS="PCMA,PCMU",
                     RING_TIMEOUT_S=str(RING_TIMEOUT_S), MAX_CALL_S="240", DIAL_NETWORK="sip",
                     SILENCE_REPROMPT_S="15")  # a loaded machine: slow ASR is not the callee's silence
    err = open(tmp / "worker.stderr", "wb")  # noqa: SIM115 (as long as the process)
    out = open(tmp / "worker.stdout", "wb")  # noqa: SIM115 (a file, not a pipe: PJSIP logs there too)
    return subprocess.Popen([sys.executable, "-m", "agent", "worker", "--concurrency", "4"], cwd=ROOT, env=env,
                            stdout=out, stderr=err)


def wait_worker_ready(proc: subprocess.Popen, tmp: Path, timeout: float = 180) -> str:
    """The worker's id, once it says it takes attempts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        for line in (tmp / "worker.stdout").read_text(errors="replace").splitlines():
            if line.startswith("worker ") and " ready: " in line:
                return line.split()[1]
        time.sleep(0.2)
    raise AssertionError(f"the worker did not get ready: {(tmp / 'worker.stderr').read_text()[-3000:]}")


async def zh_callee(line: Line, gate: asyncio.Lock) -> None:
    await line.answer(gate)
    await line.agent_done()  # the opening: ... 请问您是王芳本人吗？
    line.say(clip("zh_000.wav"))  # 喂，我是王芳，请问什么事
    await line.agent_done()  # 请说一下您身份证号码的最后四位
    await line.press("1234")  # keyed at the identity question: RFC 4733 from baresip
    await line.agent_done()  # the amount due and the ask
    line.say(clip("zh_016.wav"))  # 我明天下午把两千块钱还上
    await line.agent_done()  # the read-back
    line.say(clip("zh_007.wav"))  # 好的，没问题


async def en_full_callee(line: Line, gate: asyncio.Lock) -> None:
    await line.answer(gate)
    await line.agent_done()  # the opening: ... am I speaking with Emily Johnson?
    line.say(clip("en_040.wav"))  # Hello, yes, this is Emily speaking.
    await line.agent_done()  # the ID question
    await line.press("1234")
    await line.agent_done()  # the amount due and the ask
    line.say(clip("en_056.wav"))  # I can pay two hundred dollars tomorrow afternoon.
    await line.agent_done()  # the read-back
    line.say(clip("en_047.wav"))  # Yes, that's fine.


async def en_callee(line: Line, gate: asyncio.Lock) -> None:
    pay = clip("en_056.wav")  # I can pay two hundred dollars tomorrow afternoon.
    voiced = np.flatnonzero(np.abs(pay.astype(np.int32)) > 1000)
    await line.answer(gate)
    await line.agent_done()
    line.say(clip("en_040.wav"))  # Hello, yes, this is Emily speaking.
    await line.agent_done()  # the ID question
    line.say(pay[: voiced[0] + int(0.6 * (voiced[-1] - voiced[0]))], tail_s=0)  # ... and the line goes dead


def test_sip_campaigns_dialled_by_a_worker(tmp_path):
    url = make_sqlite(tmp_path)
    quiet = write_wav8k(tmp_path / "quiet.wav", np.zeros(8000 * 240, np.int16))
    callees = [Callee(ZH, answermode="manual", codecs="PCMA", audio_source=str(quiet)),
               Callee(EN, answermode="manual", codecs="PCMU", audio_source=str(quiet)),
               Callee(EN_FULL, answermode="manual", codecs="PCMU", audio_source=str(quiet)),
               Callee(BUSY, answermode="manual", audio_source=str(quiet)),
               Callee(NOANSWER, answermode="manual", audio_source=str(quiet))]
    with Baresip(tmp_path / "br", quiet, callees) as br:
        worker = spawn_sip_worker(url, tmp_path, br.port)
        try:
            worker_id = wait_worker_ready(worker, tmp_path)
            ids = seed(url)
            zh, en, en_full = Line(br, ZH, tmp_path), Line(br, EN, tmp_path), Line(br, EN_FULL, tmp_path)

            async def callees_part() -> None:
                gate = asyncio.Lock()
                await asyncio.wait_for(asyncio.gather(zh_callee(zh, gate), en_callee(en, gate),
                                                      en_full_callee(en_full, gate),
                                                      Line(br, BUSY, tmp_path).reject()), 300)

            t0 = time.monotonic()
            asyncio.run(callees_part())
            deadline = time.monotonic() + 120
            while any(a[2] in ("planned", "claimed", "dialing") for a in attempts(url) if a[1] == 1):
                assert time.monotonic() < deadline, attempts(url)
                time.sleep(0.3)
            wall = time.monotonic() - t0
        finally:
            code = stop(worker, timeout=60)
        log = (tmp_path / "worker.stderr").read_text()
        assert code == 0, log[-3000:]
        br.wait_event("CALL_CLOSED", 10, zh.aor)
        said_zh, heard_zh = zh.dumps()
        said_en, heard_en = en.dumps()
        said_full, heard_full = en_full.dumps()
    rows = attempts(url)
    first = {a[0]: a for a in rows if a[1] == 1}
    second = {a[0]: a for a in rows if a[1] == 2}
    zh_call, zh_turns = stored_call(url, ids[ZH])
    en_call, en_turns = stored_call(url, ids[EN])
    full_call, full_turns = stored_call(url, ids[EN_FULL])
    full_callee_turns = [t for t in full_turns if t[0] == "callee"]
    zh_callee_turns = [t for t in zh_turns if t[0] == "callee"]
    en_callee_turns = [t for t in en_turns if t[0] == "callee"]
    print(json.dumps({"wall_s": round(wall, 1), "attempts": [a[1:5] for a in rows],
                      "zh": {"v2v_at_baresip_ms": voice_to_voice(said_zh, heard_zh),
                             "session_v2v_ms": [t[3].get("voice_to_voice_ms") for t in zh_callee_turns],
                             "turns": [t[:3] for t in zh_turns]},
                      "en": {"v2v_at_baresip_ms": voice_to_voice(said_en, heard_en),
                             "turns": [t[:3] for t in en_turns]},
                      "en_full": {"v2v_at_baresip_ms": voice_to_voice(said_full, heard_full),
                                  "turns": [t[:3] for t in full_turns]}}, ensure_ascii=False, default=str))
    # every dial went through the worker's gated path on the campaign's network, with the codec it used
    assert all(a[6] == "sip" for a in first.values()), rows
    assert first[ids[ZH]][2:4] == ("done", "answered") and first[ids[ZH]][4].endswith("PCMA"), first[ids[ZH]]
    assert first[ids[EN]][2:4] == ("done", "answered") and first[ids[EN]][4].endswith("PCMU"), first[ids[EN]]
    assert first[ids[BUSY]][3] == "busy" and first[ids[BUSY]][4].startswith("SIP 486"), first[ids[BUSY]]
    assert first[ids[NOANSWER]][3] == "no_answer", first[ids[NOANSWER]]
    assert first[ids[NOANSWER]][4].startswith(f"no answer within {RING_TIMEOUT_S} s: CANCEL"), first[ids[NOANSWER]]
    for phone in (BUSY, NOANSWER):  # retried later, not now
        retry = second[ids[phone]]
        assert retry[2] == "planned" and retry[5] > first[ids[phone]][5], (retry, first[ids[phone]])
        assert retry[5].replace(tzinfo=UTC) > datetime.now(UTC), retry
    assert ids[ZH] not in second and ids[EN] not in second and ids[EN_FULL] not in second
    # zh: the full call, stored with its turns and outcome, the keyed digits a turn (never the digits)
    assert zh_call["status"] == "ended" and zh_call["transport"] == "sip" and zh_call["worker_id"] == worker_id
    assert zh_call["outcome"] == "ptp", (zh_call, zh_turns)
    assert zh_callee_turns[0][2] == "confirm_identity" and "王芳" in zh_callee_turns[0][1], zh_callee_turns
    assert any(t[1] == "[keypad 4 digits]" for t in zh_callee_turns), zh_callee_turns
    assert any(t[2] == "promise_to_pay" for t in zh_callee_turns), zh_callee_turns
    # en: the full call, with keyed digits, on μ-law
    assert first[ids[EN_FULL]][2:4] == ("done", "answered") and first[ids[EN_FULL]][4].endswith("PCMU"), rows
    assert full_call["status"] == "ended" and full_call["transport"] == "sip", full_call
    assert full_call["outcome"] == "ptp", (full_call, full_turns)
    assert full_callee_turns[0][2] == "confirm_identity", full_turns
    assert any(t[1] == "[keypad 4 digits]" for t in full_callee_turns), full_turns
    assert any(t[2] == "promise_to_pay" for t in full_callee_turns), full_turns
    # en: she hung up mid-sentence; what she said is kept
    assert en_call["status"] == "ended" and en_call["end_reason"] == "hangup" and en_call["outcome"], en_call
    assert en_callee_turns[0][2] == "confirm_identity" and "emily" in en_callee_turns[0][1].lower(), en_turns
    assert len(en_callee_turns) == 2 and en_callee_turns[1][1], en_turns
    assert "pay" in en_callee_turns[1][1].lower() or "two hundred" in en_callee_turns[1][1].lower(), en_turns
    assert any(t[1] for t in en_turns if t[0] == "agent"), en_turns
    # the process ran its SIP calls with the GIL handed back every 1 ms (SipDialer's media clock thread)
    assert "GIL switch interval 1.0 ms" in log, log[-3000:]

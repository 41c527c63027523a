"""Shared helpers for the server tests (test prefix: test_server_). Real SQLite or PostgreSQL."""
from __future__ import annotations

import json
import os
import uuid
import wave
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from agent.store.db import session_scope
from agent.store.models import Account, Attempt, Call, Campaign, OutboxEvent, Outcome, Turn

VOICES = Path(__file__).resolve().parent.parent / "telephony_adapter" / "sim" / "voices"


def make_database_url(tmp_path: Path, backend: str) -> str:
    """A fresh database: a SQLite file, or a unique schema in the PostgreSQL at DATABASE_URL."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'server.sqlite3'}"
    base = os.environ["DATABASE_URL"]
    import psycopg

    schema = "srv_" + uuid.uuid4().hex[:10]
    dsn = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def drop_schema(url: str) -> None:
    if not url.startswith("postgresql") or "search_path" not in url:
        return
    import psycopg

    schema = url.rsplit("%3D", 1)[-1]
    base = url.split("?", 1)[0].replace("postgresql+psycopg://", "postgresql://")
    from agent.store.db import engine_for

    engine_for(url).dispose()
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def backends() -> list[str]:
    url = os.environ.get("DATABASE_URL", "")
    return ["sqlite", "postgres"] if url.startswith("postgresql") else ["sqlite"]


def read_mono(name: str) -> np.ndarray:
    with wave.open(str(VOICES / name), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def write_stereo(path: Path, left: np.ndarray, right: np.ndarray, rate: int = 16000) -> None:
    n = max(len(left), len(right))
    data = np.zeros((n, 2), dtype="<i2")
    data[: len(left), 0] = left
    data[: len(right), 1] = right
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())


def seed_call(url: str, tmp_path: Path, *, language: str = "en", outcome: str | None = "ptp",
              status: str = "ended", campaign_id: str | None = None, script_id: str = "collections_m1",
              started_at: datetime | None = None, with_recording: bool = True,
              variant: str | None = None) -> str:
    """A call with an account, turns aligned to a real stereo recording (callee left, agent right)."""
    manifest = [json.loads(line) for line in (VOICES / "manifest.jsonl").read_text().splitlines()]
    lines = [m for m in manifest if m["lang"] == language][:2]
    agent_text = ("Hello, this is Dialwise calling about your card." if language == "en"
                  else "您好，这里是智能催收，关于您的信用卡账单。")
    agent_audio = read_mono(lines[1]["file"])  # any real speech stands in for the agent leg
    callee_audio = read_mono(lines[0]["file"])
    rate = 16000
    gap = int(0.5 * rate)
    right = np.concatenate([agent_audio, np.zeros(gap + len(callee_audio) + gap, dtype="<i2"),
                            agent_audio])
    left = np.concatenate([np.zeros(len(agent_audio) + gap, dtype="<i2"), callee_audio])
    a_end = len(agent_audio) * 1000 // rate
    c_start = (len(agent_audio) + gap) * 1000 // rate
    c_end = c_start + len(callee_audio) * 1000 // rate
    a2_start = c_end + 500
    a2_end = a2_start + a_end
    started = started_at or datetime.now(UTC) - timedelta(minutes=5)
    with session_scope(url) as s:
        acc = Account(name="Jane Doe" if language == "en" else "王芳", phone="+14155550123"
                      if language == "en" else "+8613812345678", language=language,
                      timezone="America/New_York" if language == "en" else "Asia/Shanghai",
                      balance=1200.0, currency="USD" if language == "en" else "CNY", days_past_due=31)
        s.add(acc)
        s.flush()
        call = Call(account_id=acc.id, campaign_id=campaign_id, script_id=script_id, language=language,
                    transport="loopback", status=status, started_at=started,
                    ended_at=started + timedelta(seconds=a2_end / 1000) if status == "ended" else None,
                    outcome=outcome if status == "ended" else None,
                    slots={"variant": variant} if variant else {})
        s.add(call)
        s.flush()
        if with_recording:
            path = tmp_path / "recordings" / f"{call.id}.wav"
            write_stereo(path, left, right)
            call.recording_path = str(path)
        s.add_all([
            Turn(call_id=call.id, seq=0, speaker="agent", text=agent_text, node="greet",
                 start_ms=0, end_ms=a_end, latency={"tts_first_ms": 120}),
            Turn(call_id=call.id, seq=1, speaker="callee", text=lines[0]["text"], intent=lines[0]["intent"],
                 confidence=0.91, entities={"amount": 500} if language == "en" else {},
                 start_ms=c_start, end_ms=c_end, latency={"asr_ms": 180, "nlu_ms": 12}),
            Turn(call_id=call.id, seq=2, speaker="agent", text=agent_text, node="ask_ptp",
                 start_ms=a2_start, end_ms=a2_end,
                 latency={"voice_to_voice_ms": 640, "policy_ms": 3}),
        ])
        if status == "ended" and outcome:
            s.add(Outcome(call_id=call.id, account_id=acc.id, kind=outcome,
                          promise_amount=500.0 if outcome == "ptp" else None,
                          promise_date=date.today() + timedelta(days=3) if outcome == "ptp" else None))
        return call.id


def seed_campaign(url: str, name: str = "M1 June") -> str:
    with session_scope(url) as s:
        c = Campaign(name=name, status="running")
        s.add(c)
        s.flush()
        return c.id


def add_event(url: str, type_: str, payload: dict) -> str:
    with session_scope(url) as s:
        e = OutboxEvent(type=type_, payload=payload)
        s.add(e)
        s.flush()
        return e.id


def add_attempt(url: str, campaign_id: str, account_id: str, result: str) -> None:
    with session_scope(url) as s:
        s.add(Attempt(campaign_id=campaign_id, account_id=account_id, script_id="collections_m1",
                      phone="+14155550123", status="done", result=result,
                      dialed_at=datetime.now(UTC)))

"""`dialwise bench capacity --network twilio`: how many simultaneous live calls this machine holds.

Three processes, as in production minus the phone network:
- `dialwise serve` (the models loaded once): answers the media streams and runs the sessions;
  its CPU is what is measured;
- the Twilio-protocol test carrier (telephony_adapter.sim.twilio_carrier): its callees play
  recorded clips, so they spend no ASR on the server's cores, and measure voice-to-voice latency
  as the callee hears it (end of each clip -> first voiced agent audio played);
- this process: a worker dialling N attempts at once through the gated dial path and the REST API.
Prints one JSON object.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.demo import percentile

ACCOUNT_SID = "AC" + "b" * 32
TOKEN = "bench-capacity-token"
FROM = "+12125550100"
# callee turns, in the script's order: confirm identity, the ID's last four (TTS, no recording has
# them), promise to pay, agree to the read-back
CLIPS = {
    "zh": ["zh_001.wav", "digits", "zh_016.wav", "zh_007.wav"],
    "en": ["en_040.wav", "digits", "en_056.wav", "en_047.wav"],
}
DIGITS = {"zh": "一二三四", "en": "one two three four"}  # the seeded accounts' id_last4 is 1234


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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(address: str, proc: subprocess.Popen, timeout: float, what: str) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            if httpx.get(address, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{what} was not ready within {timeout:.0f} s ({address})")


class Stack:
    """The dialwise server and the carrier as child processes, with settings pointing at each other."""

    def __init__(self, tmp: Path, turns: int) -> None:
        self.tmp = tmp
        self.turns = turns
        self.app_port, self.carrier_port = _free_port(), _free_port()
        self.db = f"sqlite:///{tmp}/bench.sqlite3"
        self.env = {**os.environ, "DATABASE_URL": self.db, "VAR_DIR": str(tmp / "var"),
                    "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM_NUMBER": FROM,
                    "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.app_port}",
                    "TWILIO_API_BASE_URL": f"http://127.0.0.1:{self.carrier_port}",
                    "SERVE_DIALS": "false", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        self.procs: list[subprocess.Popen] = []
        self.server: subprocess.Popen | None = None

    def start(self, numbers: dict[str, Any]) -> None:
        (self.tmp / "numbers.json").write_text(json.dumps(numbers))
        log = open(self.tmp / "carrier.log", "w")  # noqa: SIM115 (lives as long as the process)
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "telephony_adapter.sim.twilio_carrier", "--port", str(self.carrier_port),
             "--account-sid", ACCOUNT_SID, "--auth-token", TOKEN, "--numbers", str(self.tmp / "numbers.json")],
            env=self.env, stdout=log, stderr=subprocess.STDOUT))
        log = open(self.tmp / "server.log", "w")  # noqa: SIM115
        self.server = subprocess.Popen(
            [sys.executable, "-m", "agent", "serve", "--port", str(self.app_port), "--no-webhooks",
             "--log-level", "warning"], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(self.server)
        _wait_http(f"http://127.0.0.1:{self.carrier_port}/_carrier/calls", self.procs[0], 60, "the carrier")
        _wait_http(f"http://127.0.0.1:{self.app_port}/health/ready", self.server, 300, "dialwise serve")

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()

    def carrier_calls(self) -> dict[str, dict[str, Any]]:
        import httpx

        rows = httpx.get(f"http://127.0.0.1:{self.carrier_port}/_carrier/calls", timeout=10).json()
        return {r["sid"]: r for r in rows}


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


def _campaign(db: str, accounts: list[tuple[str, str, str]], name: str) -> str:
    from agent.store import session_scope
    from agent.store.models import Attempt, Campaign
    from dialogs.library import script_for

    now = datetime.now(UTC)
    with session_scope(db) as s:
        camp = Campaign(name=name, status="running", max_concurrent=len(accounts), max_attempts=1, network="twilio")
        s.add(camp)
        s.flush()
        s.add_all(Attempt(campaign_id=camp.id, account_id=a, script_id=script_for("collections", "M1", lang),
                          phone=phone, not_before=now) for a, phone, lang in accounts)
        return camp.id


def _server_v2v(db: str, call_ids: list[str]) -> list[float]:
    from sqlalchemy import select

    from agent.store import session_scope
    from agent.store.models import Turn

    with session_scope(db) as s:
        rows = s.scalars(select(Turn.latency).where(Turn.call_id.in_(call_ids))).all()
    return [float(r["voice_to_voice_ms"]) for r in rows if r and r.get("voice_to_voice_ms") is not None]


async def _level(stack: Stack, n: int, tag: str) -> dict[str, Any]:
    from agent.config import get_settings
    from agent.dialing.twilio import TwilioDialer
    from agent.runner import run_attempts

    accounts = _seed(stack.db, n, tag)
    campaign_id = _campaign(stack.db, accounts, f"capacity {n}")
    dialer = TwilioDialer.from_settings(get_settings(), db_url=stack.db)
    cpu0, t0 = cpu_seconds(stack.server.pid), time.monotonic()
    reports = await run_attempts(campaign_id=campaign_id, deps=None, dialer=dialer, concurrency=n,
                                 db_url=stack.db)
    wall, cpu = time.monotonic() - t0, cpu_seconds(stack.server.pid) - cpu0
    await dialer.close()
    from sqlalchemy import select

    from agent.store import session_scope
    from agent.store.models import Attempt, Call

    with session_scope(stack.db) as s:
        rows = s.execute(select(Attempt.provider_ref, Attempt.result, Call.id, Call.outcome)
                         .join(Call, Call.attempt_id == Attempt.id)
                         .where(Attempt.campaign_id == campaign_id)).all()
    calls = stack.carrier_calls()
    heard: list[float] = []
    greetings: list[float] = []
    overlaps = no_reply = turns = 0
    for sid, _, _, _ in rows:
        rep = (calls.get(sid or "") or {}).get("caller") or {}
        heard += rep.get("v2v_ms", [])
        if rep.get("greeting_ms") is not None:
            greetings.append(rep["greeting_ms"])
        overlaps += rep.get("overlaps", 0)
        no_reply += rep.get("no_reply", 0)
        turns += len(rep.get("clips_played", []))
    answered = [r for r in rows if r[1] == "answered"]
    server = _server_v2v(stack.db, [r[2] for r in rows])
    return {
        "n": n,
        "calls_completed": len(answered),
        "results": {k: sum(1 for r in rows if r[1] == k) for k in sorted({str(r[1]) for r in rows})},
        "outcomes": {k: sum(1 for r in rows if r[3] == k) for k in sorted({str(r[3]) for r in rows})},
        "v2v_heard_ms": {"p50": percentile(heard, 0.5), "p95": percentile(heard, 0.95), "max": percentile(heard, 1.0),
                         "n": len(heard)},
        "v2v_server_ms": {"p50": percentile(server, 0.5), "p95": percentile(server, 0.95), "n": len(server)},
        "greeting_ms": {"p50": percentile(greetings, 0.5), "max": percentile(greetings, 1.0), "n": len(greetings)},
        "callee_turns": turns, "overlapped_turns": overlaps, "unanswered_turns": no_reply,
        "server_cpu_s": round(cpu, 1),
        "server_cpu_s_per_call": round(cpu / len(answered), 2) if answered else None,
        "server_cpu_util": round(cpu / wall, 2),  # cores busy on average
        "wall_s": round(wall, 1),
        "reports_failed": sum(1 for r in reports if r.status not in ("done",)),
    }


def run_capacity(levels: list[int], turns: int = 3, cps: float = 20.0) -> dict[str, Any]:
    from agent.config import get_settings
    from agent.store import init_db

    tmp = Path(tempfile.mkdtemp(prefix="dialwise-capacity-"))
    stack = Stack(tmp, turns)
    stack.env["TWILIO_MAX_CPS"] = str(cps)
    max_n = max(levels) + 2
    digits = _digit_clips(tmp)
    clips = {lang: [digits[lang] if c == "digits" else c for c in items][:turns] for lang, items in CLIPS.items()}
    numbers: dict[str, Any] = {}
    for tag in ["00"] + [f"{i + 1:02d}" for i in range(len(levels))]:  # "00": the first call after start
        for i in range(max_n):
            for lang, phone in (("zh", _phone("zh", tag, i)), ("en", _phone("en", tag, i))):
                numbers[phone] = {"answer": "caller", "ring_s": 0.5, "caller": {"clips": clips[lang]}}
    old_env = dict(os.environ)
    os.environ.update({k: v for k, v in stack.env.items() if k != "PYTHONPATH"})
    get_settings.cache_clear()
    load0 = os.getloadavg()
    try:
        init_db(stack.db)
        t_start = time.monotonic()
        stack.start(numbers)
        t_ready = time.monotonic()
        # the first call after `dialwise serve` started: its greeting, as the callee hears it
        first = asyncio.run(_level(stack, 1, "00"))
        out_levels = []
        for i, n in enumerate(levels):
            out_levels.append(asyncio.run(_level(stack, n, f"{i + 1:02d}")))
        ok = [lv["n"] for lv in out_levels
              if lv["v2v_heard_ms"]["p95"] is not None and lv["v2v_heard_ms"]["p95"] <= TARGET_P95_MS
              and lv["calls_completed"] == lv["n"]]
        settings = get_settings()
        return {
            "network": "twilio (local Twilio-protocol test carrier)",
            "levels": out_levels,
            "max_n_p95_le_1200ms": max(ok) if ok else 0,
            "target": {"n": 8, "p95_ms": TARGET_P95_MS},
            "callee_turns_per_call": turns,
            "cores": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load0],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "first_call_after_start": {"serve_ready_s": round(t_ready - t_start, 1),
                                       "greeting_ms": first["greeting_ms"]["max"],
                                       "target_greeting_ms": 1000,
                                       "v2v_heard_ms": first["v2v_heard_ms"]},
            "settings": {"asr_engine": settings.asr_engine, "asr_workers": settings.asr_workers,
                         "asr_threads": settings.asr_threads, "whisper_model": settings.whisper_model,
                         "twilio_max_cps": cps},
            "bench_s": round(time.monotonic() - t_ready, 1),
            "logs": str(tmp),
        }
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(old_env)
        get_settings.cache_clear()


def register(app: Any, bench_app: Any) -> None:
    import typer

    @bench_app.command("capacity")
    def bench_capacity(
        network: str = typer.Option("twilio", help="the network to load (twilio: through the local test carrier)"),
        levels: str = typer.Option("1,4,8,12,16", help="simultaneous calls to measure, comma-separated"),
        turns: int = typer.Option(3, min=1, max=4, help="callee turns per call (recorded clips)"),
        cps: float = typer.Option(
            1.0, min=0.1, help="calls placed per second (the carrier account's limit; Twilio's default is 1)"),
    ) -> None:
        """Simultaneous live calls: voice-to-voice as the callee hears it, and server CPU per call (JSON)."""
        from agent.errors import UserError

        if network != "twilio":
            raise UserError("bench capacity measures the twilio network (through the local test carrier)")
        try:
            ns = [int(x) for x in levels.split(",") if x.strip()]
        except ValueError:
            raise UserError(f"--levels must be integers separated by commas, not {levels!r}") from None
        if not ns or min(ns) < 1:
            raise UserError("--levels needs at least one positive number")
        typer.echo(json.dumps(run_capacity(ns, turns=turns, cps=cps), ensure_ascii=False))

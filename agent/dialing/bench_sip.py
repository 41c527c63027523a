"""`dialwise bench capacity --network sip`: simultaneous SIP calls, as deployed.

A process holds at most PJSUA_MAX_CALLS (4) SIP calls (how the pjsua2 wheel is built), so N calls need
ceil(N/4) `dialwise worker` processes; the SIP test carrier is a PJSIP process too, so each worker gets
its own carrier (its SIP_TRUNK_URI). All are real child processes:
- `dialwise worker` × K (models loaded once each, embedded queue on one SQLite file, 4 lines each): they
  take the level's due attempts, dial them through the gated dial path and the SipDialer, and run the
  sessions; their CPU together is what is measured;
- `telephony_adapter.sim.sip_carrier` × K: the callees play the same recorded clips as the Twilio
  bench's, turn by turn, and measure voice-to-voice as they hear it (out of PJSIP's jitter buffer).
Calls are placed at `cps` per second in all (the attempts fall due one after the other), as the Twilio
bench places them at its account's 1 call per second. Workers are added as the levels grow, and stay.
"""
from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.dialing.bench_levels import (
    TARGET_P95_MS,
    _numbers,
    _public,
    _seed,
    _server_v2v,
    carrier_jb,
    cpu_seconds,
    level_rows,
    server_marks,
    summarize,
)

LINES_PER_WORKER = 4  # agent.dialing.sip.PJSUA_MAX_CALLS (not imported: this process loads no PJSIP)
READY_S = 240.0  # a worker loads its models before it says it is ready


def _free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pair:
    """One SIP test carrier and the `dialwise worker` that dials through it."""

    def __init__(self, tmp: Path, index: int, env: dict[str, str]) -> None:
        self.tmp, self.index, self.base_env = tmp, index, env
        self.carrier: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.http_port = 0
        self.ready_s = 0.0

    def start(self) -> None:
        rtp = random.randrange(44000, 60000, 1000)  # a block of its own: parallel runs rarely meet
        with open(self.tmp / f"carrier{self.index}.log", "w") as log:
            self.carrier = subprocess.Popen(
                [sys.executable, "-m", "telephony_adapter.sim.sip_carrier", "--port", "0", "--http-port", "0",
                 "--numbers", str(self.tmp / "numbers.json"), "--rtp-port", str(rtp + 500),
                 f"--jb={carrier_jb()}"],
                env=self.base_env, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.carrier.stdout is not None
        line = ""
        while (line := self.carrier.stdout.readline()) and not line.startswith("ready "):
            pass
        if not line.startswith("ready "):
            raise RuntimeError(f"SIP carrier {self.index} did not start (see {self.tmp}/carrier{self.index}.log)")
        ports = dict(kv.split("=") for kv in line.split()[1:])
        self.http_port = int(ports["http"])
        env = {**self.base_env, "SIP_TRUNK_URI": f"sip:127.0.0.1:{ports['sip']}",
               "SIP_LOCAL_PORT": str(_free_udp_port()), "SIP_RTP_PORT_MIN": str(rtp),
               "SIP_RTP_PORT_MAX": str(rtp + 399)}
        self.out = self.tmp / f"worker{self.index}.out"
        with open(self.out, "w") as out, open(self.tmp / f"worker{self.index}.log", "w") as err:
            self.worker = subprocess.Popen([sys.executable, "-m", "agent", "worker"], env=env, stdout=out,
                                           stderr=err, text=True)
        self._t0 = time.monotonic()

    def wait_ready(self) -> None:
        assert self.worker is not None
        deadline = self._t0 + READY_S
        while " ready: " not in self.out.read_text():
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {self.index} did not get ready (see {self.tmp}/worker{self.index}.log)")
            time.sleep(0.2)
        self.ready_s = round(time.monotonic() - self._t0, 1)

    def calls(self) -> dict[str, dict[str, Any]]:
        import httpx

        rows = httpx.get(f"http://127.0.0.1:{self.http_port}/calls", timeout=10).json()
        return {r["sip_call_id"]: {"status": r["state"], "caller": r["caller"], "media": r["media"]} for r in rows}

    def stop(self) -> None:
        for p in (self.worker, self.carrier):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in (self.worker, self.carrier):
            if p is None:
                continue
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def _campaign(db: str, accounts: list[tuple[str, str, str]], name: str, cps: float) -> str:
    """A running sip campaign whose attempts fall due `1/cps` s apart, the first now."""
    from agent.store import session_scope
    from agent.store.models import Attempt, Campaign
    from dialogs.library import script_for

    now = datetime.now(UTC)
    with session_scope(db) as s:
        camp = Campaign(name=name, status="running", max_concurrent=len(accounts), max_attempts=1, network="sip")
        s.add(camp)
        s.flush()
        s.add_all(Attempt(campaign_id=camp.id, account_id=a, script_id=script_for("collections", "M1", lang),
                          phone=phone, not_before=now + timedelta(seconds=i / cps))
                  for i, (a, phone, lang) in enumerate(accounts))
        return camp.id


def _open_attempts(db: str, campaign_id: str) -> int:
    from sqlalchemy import func, select

    from agent.store import session_scope
    from agent.store.models import Attempt

    with session_scope(db) as s:
        return s.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.campaign_id == campaign_id, Attempt.status.in_(("planned", "claimed", "dialing")))) or 0


def _level(db: str, pairs: list[Pair], n: int, tag: str, cps: float, timeout_s: float) -> dict[str, Any]:
    accounts = _seed(db, n, tag)
    workers = [p.worker.pid for p in pairs if p.worker is not None]
    cpu0, t0 = sum(cpu_seconds(pid) for pid in workers), time.monotonic()
    campaign_id = _campaign(db, accounts, f"capacity sip {n}", cps)
    while _open_attempts(db, campaign_id) and time.monotonic() - t0 < timeout_s:
        time.sleep(0.25)
    wall, cpu = time.monotonic() - t0, sum(cpu_seconds(pid) for pid in workers) - cpu0
    time.sleep(0.5)  # the carriers file their last reports as the calls end
    calls: dict[str, dict[str, Any]] = {}
    for p in pairs:
        calls.update(p.calls())
    rows = level_rows(db, campaign_id)
    out = summarize("sip", n, rows, calls, _server_v2v(db, [r[2] for r in rows]), cpu=cpu, wall=wall,
                    reports_failed=n - sum(1 for r in rows if r[1] == "answered"),
                    marks=server_marks(db, [r[2] for r in rows]))
    out["worker_processes"] = len(pairs)
    return out


def run_sip_capacity(levels: list[int], turns: int = 3, cps: float = 1.0) -> dict[str, Any]:
    from agent.store import init_db

    tmp = Path(tempfile.mkdtemp(prefix="dialwise-capacity-sip-"))
    db = f"sqlite:///{tmp}/bench.sqlite3"
    init_db(db)
    tags = [f"{i:02d}" for i in range(len(levels) + 1)]
    (tmp / "numbers.json").write_text(json.dumps(_numbers(tags, max(levels) + 2, turns, tmp)))
    env = {**os.environ, "DATABASE_URL": db, "VAR_DIR": str(tmp / "var"), "DIAL_NETWORK": "sip",
           "SIP_PUBLIC_ADDRESS": "127.0.0.1", "SIP_CALLER_ID": "02188886666", "SIP_MAX_CPS": "50",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("SIP_USERNAME", None), env.pop("SIP_PASSWORD", None)
    pairs: list[Pair] = []
    load0 = os.getloadavg()
    t_start = time.monotonic()

    def ensure(k: int) -> None:
        new = [Pair(tmp, len(pairs) + i, env) for i in range(k - len(pairs))]
        for p in new:
            pairs.append(p)
            p.start()
        for p in new:
            p.wait_ready()

    try:
        ensure(1)
        first = _level(db, pairs, 1, tags[0], cps, 180)  # the first call after the worker starts
        done = []
        for n, tag in zip(levels, tags[1:], strict=True):
            ensure(math.ceil(n / LINES_PER_WORKER))
            done.append(_public(_level(db, pairs, n, tag, cps, 180 + 2 * n / cps)))
    finally:
        for p in pairs:
            p.stop()
    ok = [lv["n"] for lv in done if lv["v2v_heard_ms"]["p95"] is not None
          and lv["v2v_heard_ms"]["p95"] <= TARGET_P95_MS and lv["calls_completed"] == lv["n"]]
    from agent.config import get_settings

    settings = get_settings()  # what the workers inherit
    return {
        "network": "sip (dialwise worker processes, 4 SIP calls each, one local PJSIP test carrier each)",
        "levels": done, "max_n_p95_le_1200ms": max(ok) if ok else 0,
        "target": {"n": 8, "p95_ms": TARGET_P95_MS},
        "first_call_after_start": {"worker_ready_s": pairs[0].ready_s if pairs else None,
                                   "greeting_ms": first["greeting_ms"]["max"], "target_greeting_ms": 1000,
                                   "v2v_heard_ms": first["v2v_heard_ms"], "completed": first["calls_completed"]},
        "callee_turns_per_call": turns, "cores": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load0], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "settings": {"asr_engine": settings.asr_engine, "asr_workers_per_process": settings.asr_workers,
                     "asr_threads": settings.asr_threads, "whisper_model": settings.whisper_model,
                     "calls_per_second": cps, "lines_per_worker": LINES_PER_WORKER,
                     "gil_switch_interval_ms": (settings.gil_switch_interval_ms or 1.0)},
        "worker_ready_s": [p.ready_s for p in pairs],
        "bench_s": round(time.monotonic() - t_start, 1),
        "logs": str(tmp),
    }

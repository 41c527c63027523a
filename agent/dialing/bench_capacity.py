"""`dialwise bench capacity --network twilio|sip`: how many simultaneous live calls this machine holds;
`dialwise bench networks`: voice-to-voice over SIP vs the Twilio path, on the same clips, in one run.

Twilio, three processes, as in production minus the phone network:
- `dialwise serve` (the models loaded once): answers the media streams and runs the sessions;
  its CPU is what is measured;
- the Twilio-protocol test carrier (telephony_adapter.sim.twilio_carrier): its callees play
  recorded clips, so they spend no ASR on the server's cores, and measure voice-to-voice latency
  as the callee hears it (end of each clip -> first voiced agent audio played);
- this process: a worker dialling N attempts at once through the gated dial path and the REST API.

SIP capacity: ceil(N/4) `dialwise worker` processes, each with its own SIP test carrier (a process holds
4 SIP calls): agent/dialing/bench_sip.py.

`bench networks`, SIP arm, two processes: the SIP user agent lives where the sessions run, so
- this process is the worker: the models loaded once, the real `SipDialer` (one PJSIP endpoint)
  INVITEs the attempts through the gated dial path and runs their sessions;
- the SIP test carrier (telephony_adapter.sim.sip_carrier, PJSIP): the trunk, whose callees play the
  same recorded clips turn by turn and measure voice-to-voice as heard (`callee_turns`, shared with
  the Twilio carrier), out of PJSIP's jitter buffer like a phone.
Prints one JSON object.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.call_figures import percentile
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

ACCOUNT_SID = "AC" + "b" * 32
TOKEN = "bench-capacity-token"
FROM = "+12125550100"


def _free_port(kind: int = 1) -> int:  # 1: TCP, 2: UDP
    import socket

    with socket.socket(socket.AF_INET, kind) as s:
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
    """The carriers (and, for Twilio, the dialwise server) as child processes, with settings pointing at
    each other. Both carriers take the same numbers (the same callees, the same clips)."""

    def __init__(self, tmp: Path, networks: tuple[str, ...], cps: float) -> None:
        self.tmp = tmp
        self.networks = networks
        self.db = f"sqlite:///{tmp}/bench.sqlite3"
        self.env = {**os.environ, "DATABASE_URL": self.db, "VAR_DIR": str(tmp / "var"),
                    "SERVE_DIALS": "false", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        self.procs: list[subprocess.Popen] = []
        self.server: subprocess.Popen | None = None
        self.sip_carrier: subprocess.Popen | None = None
        self.sip_http_port = 0
        self.baresip: Any = None
        if "twilio" in networks:
            self.app_port, self.carrier_port = _free_port(), _free_port()
            self.env.update({
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM_NUMBER": FROM,
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.app_port}",
                "TWILIO_API_BASE_URL": f"http://127.0.0.1:{self.carrier_port}", "TWILIO_MAX_CPS": str(cps)})
        if "sip" in networks or "baresip" in networks:
            # RTP: a random block of 400 ports each, so parallel runs and tests rarely meet
            base = random.randrange(44000, 58000, 1000)
            self.rtp_base = base
            self.env.update({
                "SIP_LOCAL_PORT": str(_free_port(2)), "SIP_PUBLIC_ADDRESS": "127.0.0.1",
                "SIP_RTP_PORT_MIN": str(base), "SIP_RTP_PORT_MAX": str(base + 399), "SIP_MAX_CPS": str(cps),
                "SIP_CALLER_ID": "02188886666"})
            if "twilio" in networks:  # the same clips, the same codec: Twilio's Media Streams carry μ-law only
                self.env["SIP_CODECS"] = "PCMU"

    def start(self, numbers: dict[str, Any], baresip_phones: list[str] | None = None) -> None:
        (self.tmp / "numbers.json").write_text(json.dumps(numbers))
        waits = []
        if "baresip" in self.networks:
            from agent.dialing.bench_baresip import BaresipCallees

            self.baresip = BaresipCallees(self.tmp / "baresip", self.env.get("SIP_CODECS", "PCMA,PCMU"))
            self.baresip.start(baresip_phones or [], max_calls=len(baresip_phones or []))
            if "sip" not in self.networks:  # no test trunk: the dialer's keepalive goes to baresip
                self.env["SIP_TRUNK_URI"] = f"sip:127.0.0.1:{self.baresip.br.port}"
        if "sip" in self.networks:
            log = open(self.tmp / "sip_carrier.log", "w")  # noqa: SIM115 (lives as long as the process)
            self.sip_carrier = subprocess.Popen(
                [sys.executable, "-m", "telephony_adapter.sim.sip_carrier", "--port", "0", "--http-port", "0",
                 "--numbers", str(self.tmp / "numbers.json"), "--rtp-port", str(self.rtp_base + 500),
                 f"--jb={carrier_jb()}"],
                env=self.env, stdout=subprocess.PIPE, stderr=log, text=True)
            self.procs.append(self.sip_carrier)
            assert self.sip_carrier.stdout is not None
            line = ""
            while (line := self.sip_carrier.stdout.readline()) and not line.startswith("ready "):
                pass
            if not line.startswith("ready "):
                raise RuntimeError(f"the SIP carrier did not start (see {self.tmp}/sip_carrier.log)")
            ports = dict(kv.split("=") for kv in line.split()[1:])
            self.sip_http_port = int(ports["http"])
            self.env["SIP_TRUNK_URI"] = f"sip:127.0.0.1:{ports['sip']}"
        if "twilio" in self.networks:
            log = open(self.tmp / "carrier.log", "w")  # noqa: SIM115
            carrier = subprocess.Popen(
                [sys.executable, "-m", "telephony_adapter.sim.twilio_carrier", "--port", str(self.carrier_port),
                 "--account-sid", ACCOUNT_SID, "--auth-token", TOKEN, "--numbers", str(self.tmp / "numbers.json")],
                env=self.env, stdout=log, stderr=subprocess.STDOUT)
            self.procs.append(carrier)
            log = open(self.tmp / "server.log", "w")  # noqa: SIM115
            self.server = subprocess.Popen(
                [sys.executable, "-m", "agent", "serve", "--port", str(self.app_port), "--no-webhooks",
                 "--log-level", "warning"], env=self.env, stdout=log, stderr=subprocess.STDOUT)
            self.procs.append(self.server)
            waits = [(f"http://127.0.0.1:{self.carrier_port}/_carrier/calls", carrier, 60, "the carrier"),
                     (f"http://127.0.0.1:{self.app_port}/health/ready", self.server, 300, "dialwise serve")]
        for url, proc, timeout, what in waits:
            _wait_http(url, proc, timeout, what)

    def stop(self) -> None:
        if self.baresip is not None:
            self.baresip.stop()
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()

    def carrier_calls(self, network: str) -> dict[str, dict[str, Any]]:
        """What each callee heard, by the network's call reference (Twilio CallSid, SIP Call-ID)."""
        import httpx

        if network == "sip":
            rows = httpx.get(f"http://127.0.0.1:{self.sip_http_port}/calls", timeout=10).json()
            return {r["sip_call_id"]: {"status": r["state"], "caller": r["caller"], "media": r["media"]} for r in rows}
        rows = httpx.get(f"http://127.0.0.1:{self.carrier_port}/_carrier/calls", timeout=10).json()
        return {r["sid"]: r for r in rows}


def _campaign(db: str, accounts: list[tuple[str, str, str]], name: str, network: str) -> str:
    from agent.store import session_scope
    from agent.store.models import Attempt, Campaign
    from dialogs.library import script_for

    now = datetime.now(UTC)
    with session_scope(db) as s:
        camp = Campaign(name=name, status="running", max_concurrent=len(accounts), max_attempts=1, network=network)
        s.add(camp)
        s.flush()
        s.add_all(Attempt(campaign_id=camp.id, account_id=a, script_id=script_for("collections", "M1", lang),
                          phone=phone, not_before=now) for a, phone, lang in accounts)
        return camp.id


class Dialers:
    """The worker side of each network: Twilio dials through the REST API (sessions run in `dialwise
    serve`); SIP dials with the real SipDialer from this process and runs the sessions here."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.sip: Any = None
        self.deps_ready_s: float | None = None

    async def start(self) -> None:
        if "sip" not in self.stack.networks and "baresip" not in self.stack.networks:
            return
        from agent.calls import get_deps
        from agent.dialing.registry import build_dialer

        t0 = time.monotonic()
        deps = await asyncio.to_thread(get_deps)  # as `dialwise worker` does, before the first call
        self.deps_ready_s = round(time.monotonic() - t0, 1)
        from agent.config import get_settings
        from agent.worker.runtime import apply_switch_interval

        apply_switch_interval(get_settings())  # as the worker runtime does (SIP_TRUNK_URI is set: 1 ms)
        self.sip = build_dialer("sip", deps, db_url=self.stack.db)
        await self.sip.start()

    def for_network(self, network: str) -> Any:
        if network == "sip":
            return _Recording(self.sip)
        if network == "baresip":  # the same user agent, INVITEs straight to baresip's accounts
            return _Recording(self.sip.via(self.stack.baresip.uri_template))
        from agent.config import get_settings
        from agent.dialing.twilio import TwilioDialer

        return TwilioDialer.from_settings(get_settings(), db_url=self.stack.db)

    def sessions_pid(self, network: str) -> int:
        """The process that runs the calls' sessions (whose CPU is measured)."""
        if network in ("sip", "baresip"):
            return os.getpid()
        assert self.stack.server is not None
        return self.stack.server.pid

    async def close(self) -> None:
        if self.sip is not None:
            await self.sip.close()


class _Recording:
    """A dialer that keeps each dial's network extras (e.g. the SIP jitter buffer's statistics) by call id."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.network, self.rate_limit = inner.network, inner.rate_limit
        self.extras: dict[str, dict[str, Any]] = {}

    async def dial(self, target: Any) -> Any:
        outcome = await self.inner.dial(target)
        self.extras[target.call_id] = outcome.extra
        return outcome

    async def close(self) -> None:
        pass  # the SIP dialer lives for the whole run


# an arm of `bench networks`: the SIP network with CPython's default 5 ms GIL switch interval (the A/B of
# GIL_SWITCH_INTERVAL_MS, 1 ms by default with SIP, in the same run)
SIP_GIL_5MS = "sip_gil5ms"


async def _level(stack: Stack, dialers: Dialers, arm: str, n: int, tag: str,
                 numbers: dict[str, Any]) -> dict[str, Any]:
    from agent.runner import run_attempts

    network = "sip" if arm in (SIP_GIL_5MS, "baresip") else arm
    accounts = _seed(stack.db, n, tag)
    campaign_id = _campaign(stack.db, accounts, f"capacity {arm} {n}", network)
    dialer = dialers.for_network("baresip" if arm == "baresip" else network)
    pid = dialers.sessions_pid(network)
    callees = stack.baresip.level([a[1] for a in accounts], numbers) if arm == "baresip" else []
    switch = sys.getswitchinterval()
    if arm == SIP_GIL_5MS:
        sys.setswitchinterval(0.005)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    try:
        reports = await run_attempts(campaign_id=campaign_id, deps=None, dialer=dialer, concurrency=n,
                                     db_url=stack.db)
    finally:
        sys.setswitchinterval(switch)
    wall, cpu = time.monotonic() - t0, cpu_seconds(pid) - cpu0
    if network != "sip":
        await dialer.close()
    await asyncio.sleep(0.3)  # the carrier files its last report as the call ends
    rows = level_rows(stack.db, campaign_id)
    if arm == "baresip":
        calls = await stack.baresip.reports(callees)
    else:
        calls = await asyncio.to_thread(stack.carrier_calls, network)
    extras = getattr(dialer, "extras", {})
    return summarize(arm, n, rows, calls, _server_v2v(stack.db, [r[2] for r in rows]), cpu=cpu, wall=wall,
                     reports_failed=sum(1 for r in reports if r.status not in ("done",)),
                     agent_media={cid: (x or {}).get("media") or {} for cid, x in extras.items()},
                     marks=server_marks(stack.db, [r[2] for r in rows]))


NETWORK_LABEL = {"twilio": "twilio (local Twilio-protocol test carrier)",
                 "sip": "sip (SipDialer in this process, local PJSIP test carrier)",
                 "baresip": "sip (SipDialer in this process) straight to Debian's baresip, measured at baresip"}


def _bench(networks: tuple[str, ...], plan: list[tuple[str, int]], *, turns: int, cps: float,
           warm_up: bool = True) -> dict[str, Any]:
    """Start the stack for `networks`, run a first call per network (the first call after start), then
    the levels of `plan` in order; the levels' results, with the first calls and the run's context."""
    from agent.config import get_settings
    from agent.store import init_db

    tmp = Path(tempfile.mkdtemp(prefix="dialwise-capacity-"))
    stack = Stack(tmp, networks, cps)
    firsts = [(net, 1) for net in networks] if warm_up else []
    runs = firsts + plan
    tags = [f"{i:02d}" for i in range(len(runs))]
    numbers = _numbers(tags, max(n for _, n in runs) + 2, turns, tmp)
    old_env = dict(os.environ)
    os.environ.update({k: v for k, v in stack.env.items() if k != "PYTHONPATH"})
    get_settings.cache_clear()
    load0 = os.getloadavg()

    async def main() -> tuple[list[dict[str, Any]], Dialers]:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(
            max_workers=max(n for _, n in runs) * 3 + 8, thread_name_prefix="db"))  # as `dialwise worker`
        dialers = Dialers(stack)
        await dialers.start()
        try:
            done = [await _level(stack, dialers, net, n, tag, numbers)
                    for (net, n), tag in zip(runs, tags, strict=True)]
            return done, dialers
        finally:
            await dialers.close()

    try:
        init_db(stack.db)
        t_start = time.monotonic()
        from agent.dialing.bench_baresip import arm_phones

        stack.start(numbers, arm_phones(runs, tags))
        os.environ.update({k: v for k, v in stack.env.items() if k != "PYTHONPATH"})  # the carrier's SIP port
        get_settings.cache_clear()
        t_ready = time.monotonic()
        results, dialers = asyncio.run(main())
        settings = get_settings()
        first = {}
        for lv in results[: len(firsts)]:
            net = lv["network"]
            first[net] = {"greeting_ms": lv["greeting_ms"]["max"], "target_greeting_ms": 1000,
                          "v2v_heard_ms": lv["v2v_heard_ms"]}
            if net == "twilio":
                first[net]["serve_ready_s"] = round(t_ready - t_start, 1)
            else:
                first[net]["models_ready_s"] = dialers.deps_ready_s
        return {
            "levels": results[len(firsts):],
            "first_call_after_start": first,
            "callee_turns_per_call": turns,
            "cores": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load0],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "settings": {"asr_engine": settings.asr_engine, "asr_workers": settings.asr_workers,
                         "asr_threads": settings.asr_threads, "whisper_model": settings.whisper_model,
                         "max_cps": cps},
            "bench_s": round(time.monotonic() - t_ready, 1),
            "logs": str(tmp),
        }
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(old_env)
        get_settings.cache_clear()


def run_capacity(levels: list[int], turns: int = 3, cps: float = 20.0, network: str = "twilio") -> dict[str, Any]:
    if network == "sip":  # worker processes of 4 SIP calls each (agent/dialing/bench_sip.py)
        from agent.dialing.bench_sip import run_sip_capacity

        return run_sip_capacity(levels, turns=turns, cps=cps)
    out = _bench((network,), [(network, n) for n in levels], turns=turns, cps=cps)
    lvls = [_public(lv) for lv in out.pop("levels")]
    ok = [lv["n"] for lv in lvls
          if lv["v2v_heard_ms"]["p95"] is not None and lv["v2v_heard_ms"]["p95"] <= TARGET_P95_MS
          and lv["calls_completed"] == lv["n"]]
    first = out.pop("first_call_after_start")[network]
    if network == "twilio":
        out["settings"]["twilio_max_cps"] = cps
    return {"network": NETWORK_LABEL[network], "levels": lvls, "max_n_p95_le_1200ms": max(ok) if ok else 0,
            "target": {"n": 8, "p95_ms": TARGET_P95_MS}, "first_call_after_start": first, **out}


ARMS = ("twilio", "sip", "baresip", SIP_GIL_5MS)


def run_networks(levels: list[int], rounds: int = 2, turns: int = 3, cps: float = 20.0,
                 arms: tuple[str, ...] = ("twilio", "sip", "baresip")) -> dict[str, Any]:
    """The arms on the same clips in one run, levels interleaved (twilio N, sip N, baresip N, ...) `rounds`
    times; heard voice-to-voice pooled per arm and level, and each arm minus Twilio. Arms: twilio (the
    Twilio-protocol test carrier), sip (the PJSIP test carrier as trunk and callee), baresip (INVITEs straight
    to baresip, measured there), sip_gil5ms (sip with CPython's default 5 ms GIL switch interval)."""
    plan = [(arm, n) for _ in range(rounds) for n in levels for arm in arms]
    networks = tuple(a for a in arms if a != SIP_GIL_5MS) + (("sip",) if SIP_GIL_5MS in arms else ())
    out = _bench(tuple(dict.fromkeys(networks)), plan, turns=turns, cps=cps)
    pooled: dict[tuple[str, int], dict[str, list[float]]] = {}
    for lv in out["levels"]:
        keys = ("heard", "server", "inbound", "outbound", "beyond_wait", "greeting", "cpu", "completed")
        pool = pooled.setdefault((lv["network"], lv["n"]), {k: [] for k in keys})
        for k in ("heard", "server", "inbound", "outbound", "beyond_wait"):  # pooled; "turns" are paired below
            pool[k] += lv["samples"][k]
        if lv["greeting_ms"]["p50"] is not None:
            pool["greeting"].append(lv["greeting_ms"]["p50"])
        if lv["server_cpu_s_per_call"] is not None:
            pool["cpu"].append(lv["server_cpu_s_per_call"])
        pool["completed"].append(lv["calls_completed"])

    def stats(net: str, n: int) -> dict[str, Any]:
        p = pooled[(net, n)]
        heard = {"p50": percentile(p["heard"], 0.5), "p95": percentile(p["heard"], 0.95), "n": len(p["heard"])}
        server = {"p50": percentile(p["server"], 0.5), "p95": percentile(p["server"], 0.95), "n": len(p["server"])}
        path = None if heard["p50"] is None or server["p50"] is None else round(heard["p50"] - server["p50"], 1)
        split = {"inbound_p50": percentile(p["inbound"], 0.5), "outbound_p50": percentile(p["outbound"], 0.5),
                 "heard_beyond_wait_p50": percentile(p["beyond_wait"], 0.5),
                 "heard_beyond_wait_p95": percentile(p["beyond_wait"], 0.95), "n": len(p["inbound"])}
        return {"v2v_heard_ms": heard, "v2v_server_ms": server, "heard_minus_server_p50_ms": path, "path_ms": split,
                "greeting_ms_p50": percentile(p["greeting"], 0.5),
                "cpu_s_per_call": percentile(p["cpu"], 0.5), "calls_completed": sum(p["completed"])}

    def diff(a: dict[str, Any], b: dict[str, Any], key: str, q: str) -> float | None:
        x, y = b[key][q], a[key][q]
        return None if x is None or y is None else round(x - y, 1)

    compare = []
    for n in levels:
        row: dict[str, Any] = {"n": n, "target_ms": 50}
        tw = stats("twilio", n) if "twilio" in arms else None
        for arm in arms:
            row[arm] = mine = stats(arm, n)
            if tw is not None and arm != "twilio":
                row[f"{arm}_minus_twilio_ms"] = {
                    "heard_p50": diff(tw, mine, "v2v_heard_ms", "p50"),
                    "heard_p95": diff(tw, mine, "v2v_heard_ms", "p95"),
                    "server_p50": diff(tw, mine, "v2v_server_ms", "p50"),
                    "heard_beyond_wait_p50": diff(tw, mine, "path_ms", "heard_beyond_wait_p50"),
                    "heard_beyond_wait_p95": diff(tw, mine, "path_ms", "heard_beyond_wait_p95"),
                    "inbound_p50": diff(tw, mine, "path_ms", "inbound_p50"),
                    "outbound_p50": diff(tw, mine, "path_ms", "outbound_p50")}
                row[f"{arm}_minus_twilio_paired_ms"] = paired_turns(
                    [lv for lv in out["levels"] if lv["network"] == arm and lv["n"] == n],
                    [lv for lv in out["levels"] if lv["network"] == "twilio" and lv["n"] == n], n)
        compare.append(row)
    out["levels"] = [_public(lv) for lv in out["levels"]]
    return {"compare": compare, "rounds": rounds, "arms": {a: NETWORK_LABEL.get(a, a) for a in arms}, **out}


def paired_turns(mine: list[dict[str, Any]], ref: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """The same clip at the same dialog node, with the same silence waited by the turn-taker (within 20 ms), in
    an arm's and Twilio's level of the same round (`mine`, `ref`: the levels in run order; one call per level):
    heard v2v, the arm minus Twilio, per turn. Pooled heard percentiles mix turns the turn-taker waited 400 ms
    on with turns it waited 900 ms on, so their p50 can fall between the two and move by hundreds of ms with
    one turn more or less; pairs compare like with like."""
    diffs: list[float] = []
    pairs_a: list[float] = []
    pairs_t: list[float] = []
    for a, t in zip(mine, ref, strict=False) if n == 1 else ():  # pairs need one call per level
        theirs = {(i, k): (w, h) for i, k, w, h in t["samples"]["turns"]}
        for i, k, w, h in a["samples"]["turns"]:
            if (i, k) in theirs and abs(theirs[(i, k)][0] - w) <= 20:
                diffs.append(round(h - theirs[(i, k)][1], 1))
                pairs_a.append(h)
                pairs_t.append(theirs[(i, k)][1])

    def gap(q: float) -> float | None:
        x, y = percentile(pairs_a, q), percentile(pairs_t, q)
        return None if x is None or y is None else round(x - y, 1)

    return {"diff_ms": {"p50": percentile(diffs, 0.5), "p95": percentile(diffs, 0.95), "n": len(diffs)},
            "heard_p50_minus_twilio": gap(0.5), "heard_p95_minus_twilio": gap(0.95)}


def parse_arms(text: str) -> tuple[str, ...]:
    from agent.errors import UserError

    arms = tuple(dict.fromkeys(a.strip() for a in text.split(",") if a.strip()))
    unknown = [a for a in arms if a not in ARMS]
    if unknown or not arms:
        raise UserError(f"--arms takes some of {', '.join(ARMS)}, comma-separated (not {text!r})")
    return arms


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """PJSIP writes its log (its start, errors) to stdout: into stderr while the bench runs, not into our JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _parse_levels(levels: str) -> list[int]:
    from agent.errors import UserError

    try:
        ns = [int(x) for x in levels.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--levels must be integers separated by commas, not {levels!r}") from None
    if not ns or min(ns) < 1:
        raise UserError("--levels needs at least one positive number")
    return ns


def register(app: Any, bench_app: Any) -> None:
    import typer

    @bench_app.command("capacity")
    def bench_capacity(
        network: str = typer.Option("twilio", help="the network to load: twilio (the local Twilio-protocol "
                                                   "carrier) or sip (the local PJSIP carrier)"),
        levels: str = typer.Option("1,4,8,12,16", help="simultaneous calls to measure, comma-separated"),
        turns: int = typer.Option(3, min=1, max=4, help="callee turns per call (recorded clips)"),
        cps: float = typer.Option(1.0, min=0.1, help="calls placed per second (the carrier account's limit; "
                                                     "Twilio's default is 1)"),
    ) -> None:
        """Simultaneous live calls: voice-to-voice as the callee hears it, and server CPU per call (JSON)."""
        from agent.errors import UserError

        if network not in ("twilio", "sip"):
            raise UserError("bench capacity measures the twilio or the sip network (through a local test carrier)")
        with _stdout_to_stderr():
            out = run_capacity(_parse_levels(levels), turns=turns, cps=cps, network=network)
        typer.echo(json.dumps(out, ensure_ascii=False))

    @bench_app.command("networks")
    def bench_networks(
        levels: str = typer.Option("1,4", help="simultaneous calls, comma-separated"),
        rounds: int = typer.Option(2, min=1, max=10, help="times each level runs per network (interleaved)"),
        turns: int = typer.Option(3, min=1, max=4, help="callee turns per call (recorded clips)"),
        cps: float = typer.Option(4.0, min=0.1, help="calls placed per second"),
        arms: str = typer.Option("twilio,sip,baresip", help="the arms, comma-separated: twilio (Twilio-protocol "
                                 "test carrier), sip (PJSIP test carrier), baresip (INVITEs straight to Debian's "
                                 "baresip, measured there), sip_gil5ms (sip with a 5 ms GIL switch interval)"),
    ) -> None:
        """Voice-to-voice over SIP vs the Twilio path, on the same clips in one run (JSON): heard p50/p95 per
        arm and each arm minus Twilio (the target: SIP within 50 ms of Twilio, as heard at baresip)."""
        chosen = parse_arms(arms)
        with _stdout_to_stderr():
            out = run_networks(_parse_levels(levels), rounds=rounds, turns=turns, cps=cps, arms=chosen)
        typer.echo(json.dumps(out, ensure_ascii=False))

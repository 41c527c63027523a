"""`dialwise bench turns --network twilio`: voice-to-voice of answers over the Twilio Media Streams protocol,
today's fixed silence against the complete-answer endpointer, in one run.

The stack of `bench capacity --network twilio` (agent/dialing/bench_capacity.py), one call at a time:
`dialwise serve` answers the media streams and runs the sessions, the Twilio-protocol test carrier's
callees play recorded answers (confirm identity, the ID's last four, a promise to pay, agree to the
read-back) and time each one from the end of the clip to the first voiced agent audio they hear. The
server runs with `TURN_TAKING=fixed`, with `TURN_TAKING=complete` (the early reading at its default, 60 ms of
silence since session 16), and with the reading at 100 ms of silence (`TURN_EARLY_ASR_MS=100`, sessions 9-15's
default), the modes alternating `rounds` times, each with its first call after start
left out. The turns' own latency records (endpoint reason, when the reading started) come from the run's
database.

The replay bench (`dialwise bench turns`) measures cut-ins and backchannels on the turn set's test half;
this one measures the figure the caller hears over the network, on real recorded answers.
"""
from __future__ import annotations

import os
from typing import Any

from agent.call_figures import percentile

# mode -> the server's environment: today's fixed silence, the turn-taker (default: the early reading per
# language, agent/turn_taking.py; "" = unset), the turn-taker reading from 100 ms of silence (sessions 9-15)
MODES = {"fixed": {"TURN_TAKING": "fixed", "TURN_EARLY_ASR_MS": "0"},
         "complete": {"TURN_TAKING": "complete", "TURN_EARLY_ASR_MS": ""},
         "complete_read_at_100": {"TURN_TAKING": "complete", "TURN_EARLY_ASR_MS": "100"}}


ID_NODE = "ask_last4"  # the script's ID question: the clips after the digits answer later questions only past it


def _callee_turns(db_url: str) -> tuple[list[dict[str, Any]], tuple[int, int]]:
    """From a run's database, the first call after start left out (as its heard figures are): the callee turns'
    latency records, and (calls past the ID check, calls). A call that did not pass it asked for the ID again, and
    the callee's next clips (a promise, an agreement) answered the ID question."""
    from sqlalchemy import select

    from agent.store import session_scope
    from agent.store.models import Call, Turn

    with session_scope(db_url) as s:
        calls = s.scalars(select(Call.id).order_by(Call.started_at)).all()[1:]
        rows = s.execute(select(Turn.call_id, Turn.node, Turn.latency)
                         .where(Turn.speaker == "callee", Turn.call_id.in_(calls))).all()
    records = [lat for _, _, lat in rows if lat and lat.get("voice_to_voice_ms") is not None]
    return records, past_id_check(list(calls), [(call, node) for call, node, _ in rows])


def past_id_check(calls: list[Any], callee_turns: list[tuple[Any, str | None]]) -> tuple[int, int]:
    """(calls with a callee turn that moved the dialog past the ID question, calls), from each callee turn's call
    and the node the dialog went to after it."""
    past = {call for call, node in callee_turns if node and node not in (ID_NODE, "opening")}
    return len(past & set(calls)), len(calls)


def _summary(heard: list[float], server: list[float], records: list[dict[str, Any]],
             inbound: list[float], outbound: list[float]) -> dict[str, Any]:
    """One mode's figures. `inbound` / `outbound`: the network's part of each heard turn (bench_levels.path_split:
    the callee's end of words -> the session's end of voice, which is mostly the VAD's; first agent audio -> heard)."""
    starts = [r["asr_started_after_ms"] for r in records if r.get("asr_started_after_ms") is not None]
    return {
        "v2v_heard_ms": {"p50": percentile(heard, 0.5), "p95": percentile(heard, 0.95), "n": len(heard)},
        "v2v_server_ms": {"p50": percentile(server, 0.5), "p95": percentile(server, 0.95), "n": len(server)},
        "path_ms": {"inbound_p50": percentile(inbound, 0.5), "inbound_p95": percentile(inbound, 0.95),
                    "outbound_p50": percentile(outbound, 0.5), "outbound_p95": percentile(outbound, 0.95),
                    "n": len(inbound)},
        "taken_early_share": round(sum(1 for r in records if r.get("early")) / len(records), 3) if records else None,
        "cut_ins": sum(1 for r in records if r.get("cut_in")),
        "reading_started_after_ms_p50": percentile(starts, 0.5),
        "taken_after_ms_p50": percentile([r["taken_after_ms"] for r in records
                                          if r.get("taken_after_ms") is not None], 0.5),
        "endpoint_reasons": _count(r.get("endpoint_reason", "").split(":")[0] for r in records),
    }


def _count(xs: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in xs:
        out[x] = out.get(x, 0) + 1
    return out


def run_twilio(rounds: int = 1, calls: int = 1, turns: int = 4, cps: float = 4.0) -> dict[str, Any]:
    from agent.dialing.bench_capacity import _bench

    pooled: dict[str, dict[str, list[Any]]] = {m: {"heard": [], "server": [], "inbound": [], "outbound": [],
                                                   "records": [], "past_id": []} for m in MODES}
    runs: list[dict[str, Any]] = []
    old = {k: os.environ.get(k) for k in ("TURN_TAKING", "TURN_EARLY_ASR_MS")}
    load0 = os.getloadavg()
    try:
        for _ in range(rounds):
            for mode, env in MODES.items():
                for k, v in env.items():  # the server's settings (agent.config.Settings); "" = unset
                    if v:
                        os.environ[k] = v
                    else:
                        os.environ.pop(k, None)
                out = _bench(("twilio",), [("twilio", 1)] * calls, turns=turns, cps=cps, warm_up=True)
                p = pooled[mode]
                for lv in out["levels"]:
                    for k in ("heard", "server", "inbound", "outbound"):
                        p[k] += lv["samples"][k]
                first = out["first_call_after_start"]["twilio"]
                records, past_id = _callee_turns(f"sqlite:///{out['logs']}/bench.sqlite3")
                p["records"] += records
                p["past_id"].append(past_id)
                runs.append({"mode": mode, "calls_completed": sum(lv["calls_completed"] for lv in out["levels"]),
                             "first_call_v2v_heard_ms": first["v2v_heard_ms"],
                             "loadavg_before": out["loadavg_before"], "loadavg_after": out["loadavg_after"],
                             "logs": out["logs"]})
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    res = {m: {**_summary(p["heard"], p["server"], p["records"], p["inbound"], p["outbound"]),
               "calls_past_id_check": f"{sum(a for a, _ in p['past_id'])} of {sum(b for _, b in p['past_id'])}"}
           for m, p in pooled.items()}
    b = res["fixed"]["v2v_heard_ms"]["p50"]
    ratio = {m: round(res[m]["v2v_heard_ms"]["p50"] / b, 3) if b and res[m]["v2v_heard_ms"]["p50"] else None
             for m in ("complete", "complete_read_at_100")}
    return {
        "measured": "over the Twilio Media Streams protocol (local Twilio-protocol test carrier, dialwise serve), "
                    "one call at a time; heard = end of the callee's recorded answer -> first voiced agent audio "
                    "the callee hears; fixed = today's silence per node (TURN_TAKING=fixed), complete = the "
                    "complete-answer endpointer, complete_read_at_100 = the same reading from 100 ms of silence "
                    "(sessions 9-15); path_ms "
                    "= inbound (callee's end of words -> the session's end of voice, mostly the VAD's) and outbound "
                    "(first agent audio -> heard)",
        "baseline": res["fixed"],
        "complete": res["complete"],
        "complete_read_at_100": res["complete_read_at_100"],
        "v2v_heard_p50_ratio_to_baseline": ratio,
        "targets": {"v2v_p50_ms": 450, "v2v_p95_ms": 700},
        "rounds": rounds, "calls_per_mode_and_round": calls, "turns_per_call": turns,
        "runs": runs,
        "cores": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load0],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }

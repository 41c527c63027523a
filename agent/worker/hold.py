"""A stand-in network for measuring and testing the workers: every dial "answers", the agent's
greeting and the callee's reply are stored as turns (through the real CallStore), and the line is held
for a fixed time — so a campaign's throughput depends on lines and queueing, not on our CPU.

Each dial appends one JSON line to `log_path` (O_APPEND, one write per line) at its start and one at
its end: {"event": "dial"|"end", "attempt_id", "account_id", "call_id", "pid", "t"}. Counting "dial"
lines per attempt finds double dials; the intervals per account find a debtor in two calls at once.
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from itertools import pairwise
from pathlib import Path

from agent.call_store import CallStore, TurnRecord
from agent.dialing.base import ANSWERED, DialOutcome, DialTarget
from agent.session import CallResult


class HoldDialer:
    network = "loopback"  # dials through the gate like any loopback call

    def __init__(self, hold_s: float, *, log_path: str | Path | None = None, db_url: str | None = None) -> None:
        self.hold_s = hold_s
        self.log_path = str(log_path) if log_path else None
        self.db_url = db_url

    def _log(self, event: str, target: DialTarget) -> None:
        if not self.log_path:
            return
        line = json.dumps({"event": event, "attempt_id": target.attempt_id, "account_id": target.account_id,
                           "call_id": target.call_id, "pid": os.getpid(), "t": time.time()}) + "\n"
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    async def dial(self, target: DialTarget) -> DialOutcome:
        store = CallStore(target.call_id, self.db_url)
        await asyncio.to_thread(self._log, "dial", target)
        await asyncio.to_thread(store.mark_live)
        await asyncio.to_thread(store.add_turn, TurnRecord("agent", "Hello, this is a held test line.", 0, 900))
        await asyncio.sleep(self.hold_s)
        end_ms = int(self.hold_s * 1000)
        await asyncio.to_thread(store.add_turn, TurnRecord("callee", "Thanks, goodbye.", end_ms - 500, end_ms))
        await asyncio.to_thread(store.finish, "hung_up", {}, "completed", None)
        await asyncio.to_thread(self._log, "end", target)
        return DialOutcome(ANSWERED, call=CallResult(target.call_id, "hung_up", {}, "completed", 2),
                           provider_ref=f"hold:{target.call_id}")

    async def close(self) -> None:
        return None


def read_log(path: str | Path) -> list[dict]:
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def double_dials(entries: list[dict]) -> int:
    """Dials beyond the first of each attempt."""
    seen: dict[str, int] = {}
    for e in entries:
        if e["event"] == "dial":
            seen[e["attempt_id"]] = seen.get(e["attempt_id"], 0) + 1
    return sum(n - 1 for n in seen.values())


def debtor_overlaps(entries: list[dict]) -> int:
    """Pairs of calls to one account that were on the line at the same time."""
    spans: dict[str, dict[str, list[float]]] = {}
    for e in entries:
        span = spans.setdefault(e["account_id"], {}).setdefault(e["call_id"], [e["t"], float("inf")])
        if e["event"] == "dial":
            span[0] = e["t"]
        else:
            span[1] = e["t"]
    overlaps = 0
    for calls in spans.values():
        ordered = sorted(calls.values())
        for (_, end), (start, _) in pairwise(ordered):
            if start < end:
                overlaps += 1
    return overlaps

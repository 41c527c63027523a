"""Shared pieces for dial-path tests: accounts whose local time is inside or outside the calling
window right now, and a dialer that records every dial it is asked to place."""
from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from agent.dialing.base import ANSWERED, NO_ANSWER, DialOutcome, DialTarget
from agent.session import CallResult
from agent.store import session_scope
from agent.store.models import Account, OptOut


def zone_at_local_hour(hour: int) -> str:
    """An IANA zone (Etc/GMT±N) whose local time now is `hour`:MM."""
    off = (hour - datetime.now(UTC).hour) % 24
    if off > 12:
        off -= 24
    return "Etc/GMT" + (f"{-off:+d}" if off else "")  # Etc/GMT-8 is UTC+8


def add_account(db_url: str, *, name: str = "Emily Johnson", phone: str = "+14155550101", hour: int = 11,
                opted_out: bool = False, language: str = "en", jurisdiction: str = "US") -> str:
    with session_scope(db_url) as s:
        acc = Account(name=name, phone=phone, timezone=zone_at_local_hour(hour), jurisdiction=jurisdiction,
                      language=language, purpose="collections", balance=450.0, currency="USD",
                      days_past_due=12, id_last4="1234", consent_calls=True)
        s.add(acc)
        s.flush()
        if opted_out:
            s.add(OptOut(phone=phone, account_id=acc.id, channel="call"))
        return acc.id


class RecordingDialer:
    """Stands in for a phone network: records each dial, answers after `hold_s` with a fixed outcome
    (or returns `result` without a session). It never asks the gate: the dial path must have."""

    def __init__(self, network: str = "loopback", *, result: str = ANSWERED, outcome: str = "ptp",
                 hold_s: float = 0.0, rate_limit: tuple[str, float] | None = None) -> None:
        self.network = network
        self.rate_limit = rate_limit
        self.dialled_at: list[float] = []
        self.result = result
        self.outcome = outcome
        self.hold_s = hold_s
        self.dials: list[DialTarget] = []

    async def dial(self, target: DialTarget) -> DialOutcome:
        self.dials.append(target)
        self.dialled_at.append(time.monotonic())
        await asyncio.sleep(self.hold_s)
        if self.result != ANSWERED:
            return DialOutcome(self.result, detail=f"test network: {self.result}")
        call = CallResult(call_id=target.call_id, outcome=self.outcome, slots={}, end_reason="completed", turns=0)
        return DialOutcome(ANSWERED, call=call, provider_ref=f"test:{target.call_id}")

    async def close(self) -> None:
        return None


__all__ = ["NO_ANSWER", "RecordingDialer", "add_account", "zone_at_local_hour"]

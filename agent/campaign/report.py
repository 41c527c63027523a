"""`dialwise campaigns report`: each script variant's outcome rates with Wilson confidence intervals.

Figures come from the database: a dial is an Attempt that was dialled (or a Call without an attempt);
its outcome is the call's Outcome row (else Call.outcome, else the attempt's result such as no_answer).
A variant is the script id (ids are ``{purpose}_{bucket|product}_{lang}_{variant}``), or
``script_id:variant`` when the call's slots name a variant.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent.timeutil import aware
from dialogs.outcomes import NOT_CONNECTED, NOT_PLACED, RIGHT_PARTY

PROMISE = frozenset({"ptp"})
PAID = frozenset({"paid_already"})
CONVERT = frozenset({"converted"})


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95 % by default); (0, 1) when n == 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Rate:
    count: int
    of: int
    rate: float
    ci_low: float
    ci_high: float

    @classmethod
    def of_counts(cls, k: int, n: int) -> Rate:
        lo, hi = wilson_interval(k, n)
        return cls(k, n, round(k / n, 4) if n else 0.0, round(lo, 4), round(hi, 4))


@dataclass
class VariantReport:
    variant: str
    dials: int
    outcomes: dict[str, int]
    connect: Rate
    rpc: Rate
    ptp: Rate  # promises per dial
    ptp_per_rpc: Rate
    converted: Rate  # conversions per dial
    convert_per_rpc: Rate
    promised_amount: float = 0.0


@dataclass
class CampaignReport:
    campaign_id: str | None
    since: str | None
    dials: int
    variants: list[VariantReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise(records: list[tuple[str, str, float | None]]) -> list[VariantReport]:
    """(variant, outcome, promised amount) per dial -> one VariantReport per variant."""
    by: dict[str, Counter[str]] = defaultdict(Counter)
    amounts: dict[str, float] = defaultdict(float)
    for variant, outcome, amount in records:
        by[variant][outcome] += 1
        if amount:
            amounts[variant] += float(amount)
    out = []
    for variant in sorted(by):
        c = by[variant]
        n = sum(c.values())
        connected = n - sum(c[o] for o in NOT_CONNECTED | NOT_PLACED | {"unknown"})
        rpc = sum(v for o, v in c.items() if o in RIGHT_PARTY)
        ptp = sum(c[o] for o in PROMISE)
        conv = sum(c[o] for o in CONVERT)
        out.append(VariantReport(
            variant=variant, dials=n, outcomes=dict(sorted(c.items())),
            connect=Rate.of_counts(connected, n), rpc=Rate.of_counts(rpc, n),
            ptp=Rate.of_counts(ptp, n), ptp_per_rpc=Rate.of_counts(ptp, rpc),
            converted=Rate.of_counts(conv, n), convert_per_rpc=Rate.of_counts(conv, rpc),
            promised_amount=round(amounts[variant], 2),
        ))
    return out


@dataclass
class DialRow:
    """One dial as the reports count it (a called attempt, or a call without an attempt)."""

    variant: str                 # script id, or script_id:variant when the call's slots name one
    script_id: str
    outcome: str
    campaign_id: str | None
    account_id: str
    at: datetime | None          # when it was dialled (the call's start, else the attempt's dial time)
    call_id: str | None = None
    amount: float | None = None  # promised amount
    seconds: float = 0.0         # the call's length (start to end); 0 when it never connected


def variant_name(script_id: str, slots: dict | None) -> str:
    slots = slots or {}
    variant = slots.get("variant") or slots.get("script_variant")
    return f"{script_id}:{variant}" if variant else script_id


def dial_rows(session, campaign_id: str | None = None, since: datetime | None = None) -> list[DialRow]:
    """Every dial from Attempt, Call and Outcome rows (gate-blocked attempts were never dialled)."""
    from sqlalchemy import select

    from agent.store.models import Attempt, Call, Outcome

    since = aware(since)
    q = select(Call, Outcome).join(Outcome, Outcome.call_id == Call.id, isouter=True)
    if campaign_id:
        q = q.where(Call.campaign_id == campaign_id)
    rows: list[DialRow] = []
    attempts_with_call: set[str] = set()
    for call, outcome in session.execute(q):
        at = call.started_at
        if since is not None and at is not None and aware(at) < since:
            continue
        if call.attempt_id:
            attempts_with_call.add(call.attempt_id)
        kind = (outcome.kind if outcome is not None else None) or call.outcome or "unknown"
        seconds = 0.0
        if call.started_at is not None and call.ended_at is not None:
            seconds = max(0.0, (aware(call.ended_at) - aware(call.started_at)).total_seconds())
        rows.append(DialRow(variant_name(call.script_id, call.slots), call.script_id, kind, call.campaign_id,
                            call.account_id, aware(at) if at else None, call.id,
                            outcome.promise_amount if outcome is not None else None, seconds))
    aq = select(Attempt).where(Attempt.dialed_at.is_not(None) | Attempt.result.is_not(None))
    if campaign_id:
        aq = aq.where(Attempt.campaign_id == campaign_id)
    for att in session.scalars(aq):
        if att.id in attempts_with_call:
            continue
        at = att.dialed_at or att.not_before
        if since is not None and at is not None and aware(at) < since:
            continue
        if att.status == "blocked" or att.result == "blocked":
            continue  # never dialled: the compliance gate refused it
        rows.append(DialRow(att.script_id, att.script_id, att.result or "unknown", att.campaign_id, att.account_id,
                            aware(at) if at else None))
    return rows


def campaign_report(session, campaign_id: str | None = None, since: datetime | None = None) -> CampaignReport:
    """Collect dials from Attempt, Call and Outcome rows and summarise them by script variant."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    records = [(r.variant, r.outcome, r.amount) for r in dial_rows(session, campaign_id, since)]
    return CampaignReport(
        campaign_id=campaign_id, since=since.isoformat() if since else None, dials=len(records),
        variants=summarise(records),
    )


def render_table(report: CampaignReport):
    """A rich Table of the report (rates in %, 95 % Wilson intervals in brackets)."""
    from rich.table import Table

    t = Table(title=f"Script variants — {report.dials} dials"
              + (f", campaign {report.campaign_id}" if report.campaign_id else ""))
    for col in ("variant", "dials", "connect", "right party", "ptp / dial", "ptp / rpc", "convert / dial",
                "promised"):
        t.add_column(col, justify="left" if col == "variant" else "right")

    def pct(r: Rate) -> str:
        return f"{100 * r.rate:.1f}% [{100 * r.ci_low:.1f}–{100 * r.ci_high:.1f}]"

    for v in report.variants:
        t.add_row(v.variant, str(v.dials), pct(v.connect), pct(v.rpc), pct(v.ptp), pct(v.ptp_per_rpc),
                  pct(v.converted), f"{v.promised_amount:,.2f}")
    return t

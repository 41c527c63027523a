"""Funnel and strategy reports: dialled -> connected -> right party -> promise -> kept.

Per campaign, segment (bucket, product, language), script variant and callee-local hour, from the same
dials as `dialwise campaigns report` (`report.dial_rows`). Each stage carries its conversion from the
stage before and from the dials, with 95 % Wilson intervals (`report.Rate`).

- connected: the call reached a person (not no answer, busy, voicemail, failed, unknown);
- right party: the debtor was on the line (`dialogs.outcomes.RIGHT_PARTY`);
- promise: the call ended in a promise to pay (`ptp`);
- kept: that promise (the `promises` row of the call) is now `kept`; `partially_kept` is counted apart.

Cost: the calls' minutes (start to end, unrounded) times CALL_PRICE_PER_MINUTE (in
CALL_PRICE_CURRENCY); cost per kept promise = cost / kept. Without a price the cost fields are null.

A/B comparison: within each script family (the id without its variant letter, or the script of a
`script:variant` name), every variant against the family's first, on promises and kept promises per
dial: the difference with Newcombe's hybrid score interval (built from the two Wilson intervals).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from agent.campaign.report import DialRow, Rate, dial_rows, wilson_interval
from dialogs.outcomes import NOT_CONNECTED, NOT_PLACED, RIGHT_PARTY

STAGES = ("dialled", "connected", "right_party", "promise", "kept")
GROUPINGS = ("campaign", "variant", "segment", "hour")
COMPARED = ("promise", "kept")
_NOT_CONNECTED = NOT_CONNECTED | NOT_PLACED | {"unknown"}


@dataclass
class Dial:
    row: DialRow
    segment: str
    hour: int | None
    promise_status: str | None  # the call's promise, if it made one


def family_of(variant: str) -> str:
    """"collections_m1_zh_a" -> "collections_m1_zh"; "collections_m1_zh_a:B" -> "collections_m1_zh_a"."""
    if ":" in variant:
        return variant.split(":", 1)[0]
    head, _, tail = variant.rpartition("_")
    return head if head and len(tail) <= 2 else variant


def _zone(name: str | None):
    try:
        return ZoneInfo(name or "UTC")
    except Exception:  # noqa: BLE001 - an unknown zone counts in UTC
        return UTC


def _dials(session, campaign_id: str | None, since: datetime | None) -> list[Dial]:
    from sqlalchemy import select

    from agent.store.lifecycle_models import Promise
    from agent.store.models import Account

    rows = dial_rows(session, campaign_id, since)
    ids = sorted({r.account_id for r in rows})
    accounts: dict[str, Any] = {}
    for i in range(0, len(ids), 500):
        for acc in session.scalars(select(Account).where(Account.id.in_(ids[i:i + 500]))):
            accounts[acc.id] = acc
    call_ids = [r.call_id for r in rows if r.call_id and r.outcome == "ptp"]
    promised: dict[str, str] = {}
    for i in range(0, len(call_ids), 500):
        for call_id, status in session.execute(select(Promise.call_id, Promise.status)
                                               .where(Promise.call_id.in_(call_ids[i:i + 500]))):
            promised[call_id] = status
    out = []
    for r in rows:
        acc = accounts.get(r.account_id)
        segment = " · ".join([(acc.bucket or "-") if acc else "-", (acc.product or "-") if acc else "-",
                              acc.language if acc else "-"])
        hour = r.at.astimezone(_zone(acc.timezone if acc else None)).hour if r.at is not None else None
        out.append(Dial(r, segment, hour, promised.get(r.call_id) if r.call_id else None))
    return out


def _key(d: Dial, by: str) -> str | int | None:
    if by == "campaign":
        return d.row.campaign_id or "-"
    if by == "variant":
        return d.row.variant
    if by == "segment":
        return d.segment
    return d.hour


def funnel_row(group, dials: list[Dial], price: float | None) -> dict[str, Any]:
    n = len(dials)
    counts = {
        "dialled": n,
        "connected": sum(d.row.outcome not in _NOT_CONNECTED for d in dials),
        "right_party": sum(d.row.outcome in RIGHT_PARTY for d in dials),
        "promise": sum(d.row.outcome == "ptp" for d in dials),
        "kept": sum(d.promise_status == "kept" for d in dials),
    }
    stages = [{"stage": "dialled", "count": n}]
    for prev, stage in pairwise(STAGES):
        stages.append({"stage": stage, "count": counts[stage],
                       "step": asdict(Rate.of_counts(counts[stage], counts[prev])),
                       "per_dial": asdict(Rate.of_counts(counts[stage], n))})
    minutes = sum(d.row.seconds for d in dials) / 60.0
    cost = round(minutes * price, 2) if price is not None else None
    return {"group": group, "dials": n, "stages": stages,
            "partially_kept": sum(d.promise_status == "partially_kept" for d in dials),
            "promised_amount": round(sum(d.row.amount or 0.0 for d in dials if d.row.outcome == "ptp"), 2),
            "minutes": round(minutes, 2), "cost": cost,
            "cost_per_kept": round(cost / counts["kept"], 2) if cost is not None and counts["kept"] else None}


def newcombe_difference(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float]:
    """p2 - p1 with Newcombe's hybrid score 95 % interval (method 10), from the Wilson intervals."""
    p1 = k1 / n1 if n1 else 0.0
    p2 = k2 / n2 if n2 else 0.0
    l1, u1 = wilson_interval(k1, n1)
    l2, u2 = wilson_interval(k2, n2)
    d = p2 - p1
    return d, d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)


def compare_variants(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each variant against its family's first variant, on promises and kept promises per dial."""
    families: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        families[family_of(str(r["group"]))].append(r)
    out = []
    for fam, members in sorted(families.items()):
        if len(members) < 2:
            continue
        base = members[0]
        for other in members[1:]:
            for stage in COMPARED:
                k1 = _count(base, stage)
                k2 = _count(other, stage)
                d, lo, hi = newcombe_difference(k1, base["dials"], k2, other["dials"])
                out.append({"family": fam, "metric": f"{stage}_per_dial", "a": base["group"], "b": other["group"],
                            "a_rate": round(k1 / base["dials"], 4) if base["dials"] else 0.0,
                            "b_rate": round(k2 / other["dials"], 4) if other["dials"] else 0.0,
                            "difference": round(d, 4), "ci_low": round(lo, 4), "ci_high": round(hi, 4),
                            "significant": lo > 0 or hi < 0})
    return out


def _count(row: dict[str, Any], stage: str) -> int:
    return next(s["count"] for s in row["stages"] if s["stage"] == stage)


def price_setting() -> tuple[float | None, str]:
    from agent.config import get_settings

    s = get_settings()
    return s.call_price_per_minute, s.call_price_currency


def funnel_report(session, campaign_id: str | None = None, since: datetime | None = None,
                  by: tuple[str, ...] = GROUPINGS, price: float | None = None,
                  currency: str | None = None) -> dict[str, Any]:
    """The funnel in total and per grouping in `by`; `comparisons` when "variant" is among them."""
    unknown = [b for b in by if b not in GROUPINGS]
    if unknown:
        raise ValueError(f"unknown grouping {unknown[0]!r}; use one of {', '.join(GROUPINGS)}")
    if price is None:
        price, default_currency = price_setting()
        currency = currency or default_currency
    if price is not None and (not math.isfinite(price) or price < 0):
        raise ValueError("the price per minute must be a number >= 0")
    dials = _dials(session, campaign_id, since)
    out: dict[str, Any] = {"campaign_id": campaign_id, "since": since.isoformat() if since else None,
                           "stages": list(STAGES), "price_per_minute": price,
                           "currency": currency if price is not None else None,
                           "total": funnel_row("total", dials, price), "by": {}}
    for grouping in by:
        groups: dict[Any, list[Dial]] = defaultdict(list)
        for d in dials:
            groups[_key(d, grouping)].append(d)
        keys = sorted(groups, key=lambda k: (k is None, k if k is not None else 0))
        out["by"][grouping] = [funnel_row(k, groups[k], price) for k in keys]
    if "variant" in by:
        out["comparisons"] = compare_variants(out["by"]["variant"])
    return out


def render_funnel(report: dict[str, Any], grouping: str = "variant"):
    """A rich Table: the funnel per group, each step's conversion, kept per dial [95 % CI], cost per kept."""
    from rich.table import Table

    cur = report.get("currency") or ""
    t = Table(title=f"Funnel by {grouping}: dialled → connected → right party → promise → kept")
    for col in ("group", "dialled", "connected", "right party", "promise", "kept", "kept / dial", "cost / kept"):
        t.add_column(col, justify="left" if col == "group" else "right")
    for row in report["by"].get(grouping, []) + [report["total"]]:
        cells = [str(row["group"]), str(row["dials"])]
        for s in row["stages"][1:]:
            cells.append(f"{s['count']} ({100 * s['step']['rate']:.0f}%)")
        kept = row["stages"][-1]["per_dial"]
        cells.append(f"{100 * kept['rate']:.1f}% [{100 * kept['ci_low']:.1f}–{100 * kept['ci_high']:.1f}]")
        cells.append(f"{row['cost_per_kept']:,.2f} {cur}" if row["cost_per_kept"] is not None else "—")
        t.add_row(*cells)
    return t

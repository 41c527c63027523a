"""The documented feature set of the collection and response scores (see docs/scores.md).

Two families, both built column-wise with numpy so a million accounts score in seconds:

* static account facts: days past due, log balance, delinquency bucket, language, jurisdiction,
  consent, product (one-hot over the products seen at fit time) and numeric fields of
  ``account["features"]`` seen in most training accounts;
* history before a cut-off instant: attempts, connect / right-party rates, past promises, payments,
  conversions, refusals, wrong numbers, recency of the last attempt / contact / payment
  (1 / (1 + days since / 7), 0 = never), the amount
  promised or paid relative to the balance, and the answer rate by local day part (answer history by hour).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from agent.timeutil import aware, zone_or_utc
from dialogs.outcomes import (  # noqa: F401 (NOT_CONNECTED, RIGHT_PARTY: imported from here too)
    HISTORY_OUTCOMES,
    NEGATIVE,
    NOT_CONNECTED,
    PROMISE_OR_PAID,
    RIGHT_PARTY,
    WRONG_PARTY,
)

OUTCOMES = HISTORY_OUTCOMES
#: A non-call event in history: a payment received (documented extension of the history format).
PAYMENT = "payment"
PURPOSES = ("collections", "telesales")

DAY_S = 86400.0
# local-hour day parts for the answer-history features: morning, afternoon, evening
DAY_PARTS = ((0, 12), (12, 17), (17, 24))

HISTORY_FEATURES = (
    "h_attempts", "h_connect_rate", "h_rpc_rate", "h_ptp", "h_paid", "h_converted", "h_negative",
    "h_wrong_party", "h_recency_attempt", "h_recency_rpc", "h_recency_payment",
    "h_amount_ratio", "h_answer_morning", "h_answer_afternoon", "h_answer_evening",
)
STATIC_FEATURES = (
    "days_past_due", "log_balance", "bucket_ord", "lang_zh", "jurisdiction_cn", "consent",
)


def bucket_ordinal(bucket: Any, dpd: float) -> float:
    """M0 -> 0, M1 -> 1, ... ; without a bucket, derived from days past due (M1 = 1-30, M2 = 31-60 ...)."""
    if isinstance(bucket, str) and len(bucket) >= 2 and bucket[0] in "Mm" and bucket[1].isdigit():
        return float(int(bucket[1]))
    if dpd is None or (isinstance(dpd, float) and math.isnan(dpd)):
        return 0.0
    return float(min(6, max(0, math.ceil(float(dpd) / 30.0))))


def _num(v: Any) -> float:
    if v is None or isinstance(v, bool):
        return float(v) if isinstance(v, bool) else np.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return np.nan


def accounts_to_columns(accounts: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Account dicts (the `dialwise plan` format) -> the column form that `score_many` takes."""
    n = len(accounts)
    cols: dict[str, np.ndarray] = {
        "id": np.array([str(a.get("id", "")) for a in accounts], dtype=object),
        "days_past_due": np.fromiter((_num(a.get("days_past_due")) for a in accounts), float, n),
        "balance": np.fromiter((_num(a.get("balance")) for a in accounts), float, n),
        "bucket": np.array([a.get("bucket") for a in accounts], dtype=object),
        "language": np.array([a.get("language") for a in accounts], dtype=object),
        "jurisdiction": np.array([a.get("jurisdiction") for a in accounts], dtype=object),
        "consent": np.fromiter((_num(a.get("consent", True)) for a in accounts), float, n),
        "product": np.array([a.get("product") for a in accounts], dtype=object),
        "timezone": np.array([a.get("timezone") for a in accounts], dtype=object),
    }
    extra_keys: set[str] = set()
    for a in accounts:
        f = a.get("features") or {}
        extra_keys.update(k for k, v in f.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    for k in sorted(extra_keys):
        cols[f"features.{k}"] = np.fromiter(
            (_num((a.get("features") or {}).get(k)) for a in accounts), float, n
        )
    return cols


def _col(columns: Mapping[str, Any], name: str, n: int, default: Any = np.nan, dtype=float) -> np.ndarray:
    v = columns.get(name)
    if v is None:
        return np.full(n, default, dtype=dtype)
    arr = np.asarray(v, dtype=dtype) if dtype is not object else np.asarray(v, dtype=object)
    if arr.shape != (n,):
        raise ValueError(f"column {name!r} has shape {arr.shape}, expected ({n},)")
    return arr


def n_rows(columns: Mapping[str, Any]) -> int:
    for key in ("days_past_due", "balance", "id", "bucket"):
        if columns.get(key) is not None:
            return len(columns[key])
    raise ValueError("columns need at least one of: days_past_due, balance, id, bucket")


def bucket_ordinals(columns: Mapping[str, Any], n: int) -> np.ndarray:
    dpd = _col(columns, "days_past_due", n)
    from_dpd = np.clip(np.ceil(np.nan_to_num(dpd, nan=0.0) / 30.0), 0, 6)
    b = columns.get("bucket")
    if b is None:
        return from_dpd
    out = from_dpd.copy()
    barr = np.asarray(b, dtype=object)
    # vectorised parse of "M<digit>" strings; anything else falls back to days past due
    for code in range(7):
        out[(barr == f"M{code}") | (barr == f"m{code}")] = float(code)
    out[(barr == "M3+") | (barr == "M4+")] = 3.0
    return out


@dataclass
class FeatureSpec:
    """What a fitted scorer expects: the products it one-hots and the extra numeric feature keys."""

    products: list[str] = field(default_factory=list)
    extra_keys: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return (
            list(STATIC_FEATURES)
            + [f"product={p}" for p in self.products]
            + [f"features.{k}" for k in self.extra_keys]
            + list(HISTORY_FEATURES)
        )

    @classmethod
    def learn(cls, columns: Mapping[str, Any], max_products: int = 8, max_extra: int = 20) -> FeatureSpec:
        n = n_rows(columns)
        products: list[str] = []
        if columns.get("product") is not None:
            vals, counts = np.unique(
                np.array([str(p) for p in columns["product"] if p is not None], dtype=object).astype(str),
                return_counts=True,
            ) if n else (np.array([]), np.array([]))
            order = np.argsort(-counts, kind="stable")
            products = [str(vals[i]) for i in order[:max_products] if counts[i] >= max(5, 0.01 * n)]
        extra = []
        for key in sorted(k for k in columns if k.startswith("features.")):
            arr = np.asarray(columns[key], dtype=float)
            if n and np.isfinite(arr).mean() >= 0.5 and np.nanstd(arr) > 0:
                extra.append(key.split(".", 1)[1])
        return cls(products=products, extra_keys=extra[:max_extra])


def static_matrix(columns: Mapping[str, Any], spec: FeatureSpec, dpd_shift_days: float = 0.0) -> np.ndarray:
    """Static account features, one row per account. ``dpd_shift_days`` rewinds days past due to a past snapshot."""
    n = n_rows(columns)
    dpd = _col(columns, "days_past_due", n)
    if dpd_shift_days:
        dpd = np.maximum(dpd - dpd_shift_days, 0.0)
    bal = _col(columns, "balance", n)
    shifted = dict(columns)
    shifted["days_past_due"] = dpd
    lang = _col(columns, "language", n, None, object)
    jur = _col(columns, "jurisdiction", n, None, object)
    cons = _col(columns, "consent", n, 1.0)
    parts = [
        dpd,
        np.log1p(np.maximum(np.nan_to_num(bal, nan=0.0), 0.0)),
        bucket_ordinals(shifted, n),
        (lang == "zh").astype(float),
        (jur == "CN").astype(float),
        np.nan_to_num(cons, nan=1.0),
    ]
    if spec.products:
        prod = _col(columns, "product", n, None, object)
        parts.extend((prod == p).astype(float) for p in spec.products)
    for k in spec.extra_keys:
        parts.append(_col(columns, f"features.{k}", n))
    return np.column_stack(parts) if parts else np.zeros((n, 0))


# ---------------------------------------------------------------- history


def _parse_at(value: Any) -> datetime:
    if isinstance(value, datetime):
        dt = value
    else:
        s = str(value)
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        dt = datetime.fromisoformat(s)
    return aware(dt)


@dataclass
class HistoryTable:
    """History rows as parallel arrays: account index, epoch seconds, outcome, amount, local hour, is_call."""

    ids: list[str]  # account ids, position = index
    index: dict[str, int]
    acct: np.ndarray
    t: np.ndarray
    outcome: np.ndarray  # object array of outcome strings
    amount: np.ndarray
    local_hour: np.ndarray
    is_call: np.ndarray

    @property
    def empty(self) -> bool:
        return len(self.t) == 0

    @classmethod
    def build(cls, history: Iterable[Mapping[str, Any]], timezones: Mapping[str, str] | None = None) -> HistoryTable:
        index: dict[str, int] = {}
        ids: list[str] = []
        acct, ts, outs, amts, hours, calls = [], [], [], [], [], []
        tzs = timezones or {}
        for row in history:
            aid = str(row.get("account_id", ""))
            i = index.get(aid)
            if i is None:
                i = index[aid] = len(ids)
                ids.append(aid)
            dt = _parse_at(row["at"])
            out = str(row.get("outcome") or "")
            acct.append(i)
            ts.append(dt.timestamp())
            outs.append(out)
            amts.append(_num(row.get("amount")))
            hours.append(dt.astimezone(zone_or_utc(tzs.get(aid))).hour)
            calls.append(out != PAYMENT and not (out == "converted" and row.get("script_id") in (None, "")))
        return cls(
            ids=ids, index=index,
            acct=np.asarray(acct, dtype=np.int64), t=np.asarray(ts, dtype=float),
            outcome=np.asarray(outs, dtype=object), amount=np.asarray(amts, dtype=float),
            local_hour=np.asarray(hours, dtype=np.int16), is_call=np.asarray(calls, dtype=bool),
        )

    def positions(self, account_ids: Sequence[Any]) -> np.ndarray:
        """Row of each account id in this table, -1 where the account has no history."""
        get = self.index.get
        return np.fromiter((get(str(a), -1) for a in account_ids), np.int64, len(account_ids))

    def features(self, cutoff: float | None = None, balances: np.ndarray | None = None) -> np.ndarray:
        """History features per account of this table using only rows strictly before ``cutoff``.

        Returns a matrix of shape (len(ids), len(HISTORY_FEATURES)).
        """
        m = len(self.ids)
        mask = np.ones(len(self.t), bool) if cutoff is None else self.t < cutoff
        ref = (float(self.t.max()) if len(self.t) else 0.0) if cutoff is None else cutoff
        a = self.acct[mask]
        out = self.outcome[mask]
        call = self.is_call[mask]
        t = self.t[mask]
        amt = np.nan_to_num(self.amount[mask], nan=0.0)
        hr = self.local_hour[mask]

        def count(sel: np.ndarray) -> np.ndarray:
            return np.bincount(a[sel], minlength=m).astype(float)

        isin = lambda group: np.isin(out, list(group))  # noqa: E731
        attempts = count(call)
        connected = count(call & ~isin(NOT_CONNECTED))
        rpc_sel = call & isin(RIGHT_PARTY)
        rpc = count(rpc_sel)
        pay_sel = (out == PAYMENT) | (out == "paid_already")
        money_sel = pay_sel | (out == "ptp")
        feats = np.full((m, len(HISTORY_FEATURES)), np.nan)
        feats[:, 0] = attempts
        feats[:, 1] = (connected + 0.5) / (attempts + 1.0)
        feats[:, 2] = (rpc + 0.25) / (attempts + 1.0)
        feats[:, 3] = count(out == "ptp")
        feats[:, 4] = count(pay_sel)
        feats[:, 5] = count(out == "converted")
        feats[:, 6] = count(isin(NEGATIVE))
        feats[:, 7] = count(isin(WRONG_PARTY))
        for col, sel in ((8, call), (9, rpc_sel), (10, pay_sel)):
            last = np.full(m, -np.inf)
            np.maximum.at(last, a[sel], t[sel])
            # recency = 1 / (1 + days since / 7); 0 = never
            feats[:, col] = np.where(np.isfinite(last), 1.0 / (1.0 + (ref - last) / (7.0 * DAY_S)), 0.0)
        money = np.bincount(a[money_sel], weights=amt[money_sel], minlength=m)
        if balances is not None:
            feats[:, 11] = money / np.maximum(np.nan_to_num(balances, nan=0.0), 1.0)
        else:
            feats[:, 11] = np.where(money > 0, 1.0, 0.0)
        for j, (lo, hi) in enumerate(DAY_PARTS):
            in_part = call & (hr >= lo) & (hr < hi)
            n_part = count(in_part)
            ans = count(in_part & ~isin(NOT_CONNECTED))
            feats[:, 12 + j] = (ans + 0.5) / (n_part + 1.0)
        return feats


def no_history_row() -> np.ndarray:
    """The history features of an account never contacted (matches `HistoryTable.features`)."""
    row = np.full(len(HISTORY_FEATURES), np.nan)
    row[0] = 0.0
    row[1] = 0.5
    row[2] = 0.25
    row[3:12] = 0.0
    row[12:15] = 0.5
    return row


def join_history(positions: np.ndarray, hist_feats: np.ndarray | None) -> np.ndarray:
    """History feature rows for accounts at ``positions`` (-1 = none) in ``hist_feats``."""
    n = len(positions)
    out = np.tile(no_history_row(), (n, 1))
    if hist_feats is not None and len(hist_feats):
        has = positions >= 0
        out[has] = hist_feats[positions[has]]
    return out

"""Accounts and history for planning, in column form (numpy), read from the `dialwise plan` JSONL.

Accounts: {"id", "phone", "timezone", "jurisdiction", "language", "purpose", "bucket", "product",
"balance", "days_past_due", "consent", "features": {...}} -- one object per line.
History: {"account_id", "at", "script_id", "outcome", "amount"} (+ optional "promise_date",
"callback_at") -- one object per line.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from agent.campaign.compliance.wire import parse_instant
from agent.errors import UserError
from agent.timeutil import zone
from dialogs.outcomes import HISTORY_OUTCOMES, SCRIPT_SUCCESS

OUTCOMES = HISTORY_OUTCOMES
OUTCOME_CODE = {o: i for i, o in enumerate(OUTCOMES)}
CONNECTED_FROM = OUTCOME_CODE["wrong_number"]   # this and later: the call connected
RIGHT_PARTY_FROM = OUTCOME_CODE["right_party"]  # this and later: the right party was on the line
SUCCESS = tuple(sorted(OUTCOME_CODE[o] for o in SCRIPT_SUCCESS))  # what a script is judged on
REFUSALS = ("refused", "not_interested")        # an explicit no (blocks marketing)
MAX_STRING_FEATURE_VALUES = 12                  # string features with few values form segments


@dataclass
class Accounts:
    ids: np.ndarray            # object
    phone: np.ndarray          # object
    timezone: np.ndarray       # object
    jurisdiction: np.ndarray   # object
    language: np.ndarray       # object
    purpose: np.ndarray        # object
    bucket: np.ndarray         # object (None allowed)
    product: np.ndarray        # object (None allowed)
    region: np.ndarray         # object (None allowed)
    balance: np.ndarray        # float
    days_past_due: np.ndarray  # float
    consent: np.ndarray        # bool
    numeric: dict[str, np.ndarray] = field(default_factory=dict)   # features.<k>
    strings: dict[str, np.ndarray] = field(default_factory=dict)   # low-cardinality string features

    def __len__(self) -> int:
        return len(self.ids)

    def index(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self.ids.tolist())}

    def columns(self, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The column form `agent.campaign.scores` takes."""
        cols = {"id": self.ids, "days_past_due": self.days_past_due, "balance": self.balance,
                "bucket": self.bucket, "language": self.language, "jurisdiction": self.jurisdiction,
                "consent": self.consent.astype(float), "product": self.product, "timezone": self.timezone}
        cols.update({f"features.{k}": v for k, v in self.numeric.items()})
        if mask is None:
            return cols
        return {k: v[mask] for k, v in cols.items()}

    def subset(self, idx: np.ndarray) -> Accounts:
        return Accounts(*(getattr(self, f)[idx] for f in (
            "ids", "phone", "timezone", "jurisdiction", "language", "purpose", "bucket", "product", "region",
            "balance", "days_past_due", "consent")),
            numeric={k: v[idx] for k, v in self.numeric.items()},
            strings={k: v[idx] for k, v in self.strings.items()})


def _num(v, default=np.nan) -> float:
    if v is None or isinstance(v, bool):
        return default
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def accounts_from_dicts(rows: Iterable[dict], where: str = "accounts") -> Accounts:
    """Accounts in column form. `rows` may be a generator (nothing per row is kept but the columns)."""
    ids: list = []
    phone: list = []
    tzs: list = []
    jur: list = []
    lang: list = []
    purpose: list = []
    bucket: list = []
    product: list = []
    region: list = []
    balance: list = []
    dpd: list = []
    consent: list = []
    feat: dict[str, list] = {}
    known_tz: set[str] = set()
    canon: dict = {}

    def one(v):
        return canon.setdefault(v, v) if len(canon) < 100_000 else v

    n = 0
    for a in rows:
        n += 1
        if not isinstance(a, dict):
            raise UserError(f"{where} line {n}: expected a JSON object")
        try:
            aid, ph, tz, j, pu = a["id"], a["phone"], a["timezone"], a["jurisdiction"], a["purpose"]
        except KeyError as exc:
            raise UserError(f"{where} line {n}: missing '{exc.args[0]}'") from None
        if not (aid and ph and tz and j):
            missing = next(k for k in ("id", "phone", "timezone", "jurisdiction") if not a[k])
            raise UserError(f"{where} line {n}: empty '{missing}'")
        if pu != "collections" and pu != "telesales":
            raise UserError(f"{where} line {n}: purpose must be collections or telesales")
        if tz not in known_tz:
            try:
                zone(tz)
            except ValueError:
                raise UserError(f"{where} line {n}: unknown time zone {tz!r}") from None
            known_tz.add(tz)
        j = str(j).upper()
        ids.append(str(aid))
        phone.append(str(ph))
        tzs.append(one(tz))  # one string object per distinct value: millions of rows stay small
        jur.append(one(j))
        lang.append(one(a.get("language") or ("zh" if j == "CN" else "en")))
        purpose.append(one(pu))
        bucket.append(one(a.get("bucket")))
        product.append(one(a.get("product")))
        region.append(one(a.get("region")))
        b = a.get("balance")
        balance.append(b if type(b) is float or type(b) is int else _num(b, 0.0))
        d = a.get("days_past_due")
        dpd.append(d if type(d) is int or type(d) is float else _num(d, 0.0))
        consent.append(a.get("consent") is True)
        f = a.get("features")
        if f:
            for k, v in f.items():
                col = feat.get(k)
                if col is None:
                    col = feat[k] = [None] * (n - 1)
                elif len(col) < n - 1:
                    col.extend([None] * (n - 1 - len(col)))
                col.append(one(v) if type(v) is str and len(v) <= 32 else v)
    numeric: dict[str, np.ndarray] = {}
    strings: dict[str, np.ndarray] = {}
    for k in sorted(feat):
        col = feat[k]
        col.extend([None] * (n - len(col)))
        first = next((v for v in col if v is not None), None)
        if isinstance(first, str):
            arr = np.array(col, dtype=object)
            if len(set(col)) <= MAX_STRING_FEATURE_VALUES + 1:
                strings[k] = arr
        elif isinstance(first, (int, float)) and not isinstance(first, bool):
            numeric[k] = np.fromiter((_num(v) for v in col), float, n)

    def obj(x: list) -> np.ndarray:
        out = np.empty(len(x), dtype=object)
        out[:] = x
        return out

    return Accounts(obj(ids), obj(phone), obj(tzs), obj(jur), obj(lang), obj(purpose), obj(bucket), obj(product),
                    obj(region), np.array(balance, float), np.array(dpd, float), np.array(consent, bool),
                    numeric, strings)


def iter_jsonl(path: str | Path, what: str) -> Iterator[dict]:
    """One object per non-blank line; a bad line stops with its line number."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{what} file {p} does not exist")
    loads = json.loads
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            try:
                yield loads(line)
            except json.JSONDecodeError as exc:
                if not line.strip():
                    continue
                raise UserError(f"{what} {p} line {n}: not valid JSON ({exc.msg})") from None


def read_jsonl(path: str | Path, what: str) -> list[dict]:
    return list(iter_jsonl(path, what))


@dataclass
class History:
    """Past dials in columns. `acc` indexes Accounts (-1: an account not in the portfolio)."""

    rows: list[dict]
    acc: np.ndarray        # int64
    at: np.ndarray         # float epoch seconds
    local_how: np.ndarray  # int hour of week in the callee's zone (Mon 00h = 0)
    local_day: np.ndarray  # int date.toordinal() of the local date in the callee's zone
    outcome: np.ndarray    # int code in OUTCOMES
    script: np.ndarray     # object script id
    amount: np.ndarray     # float
    promise_day: np.ndarray  # int local day of the promise date, -1 if none
    callback_at: list      # datetime | None per row

    def __len__(self) -> int:
        return len(self.acc)

    @property
    def right_party(self) -> np.ndarray:
        return self.outcome >= RIGHT_PARTY_FROM


def history_from_dicts(rows: list[dict], accounts: Accounts, where: str = "history") -> History:
    index = accounts.index()
    tzs = accounts.timezone
    n = len(rows)
    acc = np.full(n, -1, np.int64)
    at = np.zeros(n)
    how = np.zeros(n, np.int64)
    day = np.zeros(n, np.int64)
    outcome = np.zeros(n, np.int64)
    script = np.empty(n, dtype=object)
    amount = np.full(n, np.nan)
    pday = np.full(n, -1, np.int64)
    cbs: list = [None] * n
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise UserError(f"{where} line {i + 1}: expected a JSON object")
        o = r.get("outcome")
        if o not in OUTCOME_CODE:
            raise UserError(f"{where} line {i + 1}: unknown outcome {o!r}; use one of {', '.join(OUTCOMES)}")
        try:
            t = parse_instant(r.get("at"), "at")
        except ValueError as exc:
            raise UserError(f"{where} line {i + 1}: {exc}") from None
        k = index.get(str(r.get("account_id")), -1)
        acc[i] = k
        local = t.astimezone(zone(tzs[k])) if k >= 0 else t
        at[i] = t.timestamp()
        how[i] = local.weekday() * 24 + local.hour
        day[i] = local.date().toordinal()
        outcome[i] = OUTCOME_CODE[o]
        script[i] = r.get("script_id")
        amount[i] = _num(r.get("amount"))
        pd = r.get("promise_date")
        if pd:
            try:
                pday[i] = datetime.fromisoformat(str(pd)[:10]).date().toordinal()
            except ValueError:
                pass
        cb = r.get("callback_at")
        if cb:
            try:
                cbs[i] = parse_instant(cb, "callback_at")
            except ValueError:
                pass
    return History(rows, acc, at, how, day, outcome, script, amount, pday, cbs)

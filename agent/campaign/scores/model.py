"""Collection and response scores fitted on a lender's own history (accounts, attempts, outcomes).

Training rows come from rolling snapshots: for a cut-off instant ``c`` the features use only history
before ``c`` and the label is what happened in ``[c, c + horizon)``. The last window ends at the latest
history event; up to ``max_snapshots`` earlier windows are stacked for more rows.

* score  = P(positive within the horizon | called in the window), positive = ptp, paid_already or a
  payment event (collections) or converted (telesales); fitted on the accounts called in the window;
* uplift = P(pay | called) - P(pay | not called), a two-model (T-learner) over payment events
  (``{"outcome": "payment"}`` rows, or organic conversions for telesales = ``converted`` without a
  script), only when history has such events for both called and not-called accounts;
* too little history -> the documented rule-based priors of `priors.py` (``scorer.mode == "prior"``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from agent.campaign.scores.features import (
    DAY_S,
    PAYMENT,
    PROMISE_OR_PAID,
    PURPOSES,
    FeatureSpec,
    HistoryTable,
    accounts_to_columns,
    join_history,
    n_rows,
    static_matrix,
)
from agent.campaign.scores.priors import prior

MIN_ROWS = 200  # labelled rows needed before a model replaces the priors
MIN_CLASS = 20  # and at least this many of each class
LGBM_FROM = 5000  # "auto" backend: logistic regression below, LightGBM from here on
MAX_FIT_ROWS = 300_000  # larger training sets are subsampled (seeded) to bound fit time


def _cap(n: int, limit: int, seed: int) -> np.ndarray:
    """Row indices: all of them, or a seeded sorted sample of ``limit``."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


@dataclass
class ScorerInfo:
    purpose: str
    horizon_days: int
    mode: str  # "model" | "prior"
    backend: str | None = None  # "logistic" | "lightgbm"
    n_train: int = 0
    n_positive: int = 0
    snapshots: int = 0
    uplift: bool = False
    n_control: int = 0
    reason: str = ""
    features: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainingSet:
    """Stacked snapshot rows. ``called`` marks rows called in their window."""

    X: np.ndarray
    y_score: np.ndarray  # positive outcome (score label), meaningful where called
    y_pay: np.ndarray  # payment / organic-conversion event in the window (uplift label)
    called: np.ndarray
    account: np.ndarray  # account row index, for grouped splits
    snapshot: np.ndarray
    has_payment_events: bool
    feature_names: list[str]

    def scored(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = self.called
        return self.X[m], self.y_score[m], self.account[m]


def _positive_mask(purpose: str, table: HistoryTable) -> np.ndarray:
    if purpose == "telesales":
        return table.outcome == "converted"
    return np.isin(table.outcome, list(PROMISE_OR_PAID | {PAYMENT}))


def _payment_mask(purpose: str, table: HistoryTable) -> np.ndarray:
    if purpose == "telesales":
        return table.outcome == "converted"
    return table.outcome == PAYMENT


def build_training_set(
    columns: Mapping[str, Any],
    table: HistoryTable,
    purpose: str,
    spec: FeatureSpec,
    horizon_days: int = 14,
    max_snapshots: int = 4,
    max_control: int | None = 100_000,
) -> TrainingSet:
    n = n_rows(columns)
    horizon = horizon_days * DAY_S
    names = spec.names
    empty = TrainingSet(
        np.zeros((0, len(names))), np.zeros(0), np.zeros(0), np.zeros(0, bool), np.zeros(0, np.int64),
        np.zeros(0, np.int64), False, names,
    )
    if table.empty or n == 0:
        return empty
    pos = table.positions(columns["id"]) if columns.get("id") is not None else np.full(n, -1)
    bal = np.asarray(columns.get("balance", np.full(n, np.nan)), dtype=float)
    bal_tbl = np.full(len(table.ids), np.nan)
    bal_tbl[pos[pos >= 0]] = bal[pos >= 0]
    positive = _positive_mask(purpose, table)
    payment = _payment_mask(purpose, table)
    non_call_events = bool(np.any(payment & ~table.is_call))
    t_min, t_max = float(table.t.min()), float(table.t.max())
    end = t_max + 1.0
    parts: list[tuple[np.ndarray, ...]] = []
    for k in range(max_snapshots):
        c = end - horizon * (k + 1)
        if c + horizon <= t_min:
            break
        in_win = (table.t >= c) & (table.t < c + horizon)
        m = len(table.ids)
        called_t = np.bincount(table.acct[in_win & table.is_call], minlength=m) > 0
        pos_t = np.bincount(table.acct[in_win & positive], minlength=m) > 0
        pay_t = np.bincount(table.acct[in_win & payment], minlength=m) > 0
        has = pos >= 0
        called = np.zeros(n, bool)
        y_s = np.zeros(n)
        y_p = np.zeros(n)
        called[has] = called_t[pos[has]]
        y_s[has] = pos_t[pos[has]]
        y_p[has] = pay_t[pos[has]]
        keep = called | non_call_events  # without payment events, not-called rows carry no label
        idx = np.nonzero(keep)[0]
        if max_control is not None and non_call_events:
            ctl = idx[~called[idx]]
            if len(ctl) > max_control:  # bound the not-called (control) rows kept per snapshot
                rng = np.random.default_rng(k)
                ctl = rng.choice(ctl, max_control, replace=False)
                idx = np.sort(np.concatenate([idx[called[idx]], ctl]))
        sub = {key: np.asarray(v)[idx] for key, v in columns.items() if v is not None}
        hist = join_history(pos[idx], table.features(cutoff=c, balances=bal_tbl))
        stat = static_matrix(sub, spec, dpd_shift_days=(end - c) / DAY_S)
        X = np.hstack([stat, hist])
        parts.append((X, y_s[idx], y_p[idx], called[idx], idx, np.full(len(idx), k)))
    if not parts:
        return empty
    cat = [np.concatenate([p[i] for p in parts]) for i in range(6)]
    return TrainingSet(cat[0], cat[1], cat[2], cat[3].astype(bool), cat[4].astype(np.int64),
                       cat[5].astype(np.int64), non_call_events, names)


def fit_classifier(X: np.ndarray, y: np.ndarray, backend: str = "auto", seed: int = 0):
    """A probabilistic classifier: scaled L2 logistic regression, or LightGBM for larger sets."""
    if backend == "auto":
        backend = "lightgbm" if len(y) >= LGBM_FROM else "logistic"
    if backend == "lightgbm":
        import lightgbm as lgb

        model = lgb.LGBMClassifier(
            n_estimators=200, learning_rate=0.05, num_leaves=15,
            min_child_samples=max(20, len(y) // 500), subsample=0.8, subsample_freq=1,
            colsample_bytree=0.9, reg_lambda=1.0, random_state=seed, n_jobs=1, verbose=-1,
        )
        model.fit(X, y.astype(int))
        return model, backend
    if backend == "logistic":
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=1.0, max_iter=2000),
        )
        model.fit(X, y.astype(int))
        return model, backend
    raise ValueError(f"unknown backend {backend!r}: use auto, logistic or lightgbm")


def _enough(y: np.ndarray) -> bool:
    pos = int(y.sum())
    return len(y) >= MIN_ROWS and pos >= MIN_CLASS and len(y) - pos >= MIN_CLASS


class Scorer:
    """A fitted collection (or response) score. Build it with `fit_scorer`."""

    def __init__(self, purpose: str, horizon_days: int, spec: FeatureSpec, table: HistoryTable,
                 hist_now: np.ndarray | None, model: Any, uplift_models: tuple[Any, Any] | None,
                 info: ScorerInfo) -> None:
        self.purpose = purpose
        self.horizon_days = horizon_days
        self.spec = spec
        self.table = table
        self._hist_now = hist_now
        self.model = model
        self.uplift_models = uplift_models
        self.info = info

    @property
    def mode(self) -> str:
        return self.info.mode

    # -- single account
    def score(self, account: Mapping[str, Any]) -> float:
        """P(pay or promise within the horizon | called) for collections, P(convert | called) for telesales."""
        return float(self.score_many(accounts_to_columns([account]))[0])

    def uplift(self, account: Mapping[str, Any]) -> float | None:
        """P(pay | call) - P(pay | no call), or None when history has no not-called outcomes to learn from."""
        u = self.uplift_many(accounts_to_columns([account]))
        return None if u is None else float(u[0])

    # -- vectorised
    def history_matrix(self, columns: Mapping[str, Any]) -> np.ndarray:
        n = n_rows(columns)
        if self.table.empty or columns.get("id") is None:
            return join_history(np.full(n, -1, np.int64), None)
        return join_history(self.table.positions(columns["id"]), self._hist_now)

    def design(self, columns: Mapping[str, Any]) -> np.ndarray:
        return np.hstack([static_matrix(columns, self.spec), self.history_matrix(columns)])

    def score_many(self, columns: Mapping[str, Any]) -> np.ndarray:
        """Scores for many accounts given as columns (see `accounts_to_columns`): one float per row.

        Columns: days_past_due, balance (float arrays); bucket, language, jurisdiction, product, id
        (object arrays); consent (0/1); optional ``features.<name>`` numeric arrays. Missing columns
        count as unknown.
        """
        if isinstance(columns, Sequence) and not isinstance(columns, Mapping):
            columns = accounts_to_columns(columns)
        if self.model is None:
            return prior(self.purpose, columns, self.history_matrix(columns))
        return self.model.predict_proba(self.design(columns))[:, 1]

    def uplift_many(self, columns: Mapping[str, Any]) -> np.ndarray | None:
        if self.uplift_models is None:
            return None
        if isinstance(columns, Sequence) and not isinstance(columns, Mapping):
            columns = accounts_to_columns(columns)
        X = self.design(columns)
        treated, control = self.uplift_models
        return treated.predict_proba(X)[:, 1] - control.predict_proba(X)[:, 1]


def fit_scorer(
    accounts: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    purpose: str = "collections",
    horizon_days: int = 14,
    backend: str = "auto",
    max_snapshots: int = 4,
    seed: int = 0,
) -> Scorer:
    """Fit the collection (purpose="collections") or response (purpose="telesales") score.

    ``accounts`` are `dialwise plan` account dicts (or columns); ``history`` are plan history dicts.
    With too little labelled history the scorer falls back to the rule-based priors.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}, not {purpose!r}")
    columns = accounts if isinstance(accounts, Mapping) else accounts_to_columns(accounts)
    n = n_rows(columns) if columns else 0
    if isinstance(accounts, Mapping):
        tz = dict(zip(map(str, columns.get("id", [])), columns.get("timezone", [None] * n), strict=False))
    else:
        tz = {str(a.get("id")): a.get("timezone") for a in accounts}
    known = [h for h in history if str(h.get("account_id")) in tz] if history else []
    table = HistoryTable.build(known, tz)
    spec = FeatureSpec.learn(columns) if n else FeatureSpec()
    hist_now = None
    if not table.empty:
        pos = table.positions(columns["id"])
        bal_tbl = np.full(len(table.ids), np.nan)
        bal = np.asarray(columns["balance"], dtype=float)
        bal_tbl[pos[pos >= 0]] = bal[pos >= 0]
        hist_now = table.features(cutoff=None, balances=bal_tbl)
    info = ScorerInfo(purpose=purpose, horizon_days=horizon_days, mode="prior", features=spec.names)
    ts = build_training_set(columns, table, purpose, spec, horizon_days, max_snapshots) if n else None
    model = None
    uplift_models = None
    if ts is None or len(ts.y_score) == 0:
        info.reason = "no history: rule-based priors"
    else:
        X, y, _ = ts.scored()
        info.snapshots = int(ts.snapshot.max()) + 1
        info.n_train, info.n_positive = len(y), int(y.sum())
        if _enough(y):
            keep = _cap(len(y), MAX_FIT_ROWS, seed)
            model, info.backend = fit_classifier(X[keep], y[keep], backend, seed)
            info.mode = "model"
        else:
            info.reason = (f"too little history ({len(y)} called rows, {int(y.sum())} positive; need "
                           f">= {MIN_ROWS} rows and >= {MIN_CLASS} of each class): rule-based priors")
        if ts.has_payment_events:
            ctl = ~ts.called
            y1, y0 = ts.y_pay[ts.called], ts.y_pay[ctl]
            info.n_control = int(ctl.sum())
            if _enough(y1) and _enough(y0):
                k1, k0 = _cap(len(y1), MAX_FIT_ROWS, seed), _cap(len(y0), MAX_FIT_ROWS, seed)
                m1, _ = fit_classifier(ts.X[ts.called][k1], y1[k1], backend, seed)
                m0, _ = fit_classifier(ts.X[ctl][k0], y0[k0], backend, seed)
                uplift_models = (m1, m0)
                info.uplift = True
    return Scorer(purpose, horizon_days, spec, table, hist_now, model, uplift_models, info)

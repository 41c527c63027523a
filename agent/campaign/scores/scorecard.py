"""A scorecard supervisors can read: WOE-binned features, a logistic regression, and points per bin.

* each feature is cut into up to ``max_bins`` quantile bins (categories for text columns, rare ones
  merged into "other"; missing values get their own bin);
* weight of evidence per bin: WOE = ln((events in bin / all events) / (non-events in bin / all non-events)),
  smoothed by 0.5; information value IV = sum((event share - non-event share) * WOE);
* the features with IV >= ``min_iv`` (at most ``max_features``, highest IV first) enter an L2 logistic
  regression on their WOE values;
* points: ``base_points`` at even odds, ``pdo`` points to double the odds of the event, so a bin is worth
  factor * (beta_j * WOE_bin + alpha / m) + base_points / m points, factor = pdo / ln 2, m = features used.
  An account's total is the sum of its bins' points; higher = more likely to pay / convert.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class FeatureBins:
    name: str
    categorical: bool
    edges: list[float] = field(default_factory=list)  # numeric: upper edges, last bin open
    categories: list[str] = field(default_factory=list)  # categorical: kept categories (+ "other")
    labels: list[str] = field(default_factory=list)  # one per bin, the last is "missing"
    woe: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    event_rates: list[float] = field(default_factory=list)
    iv: float = 0.0

    def assign(self, col: np.ndarray) -> np.ndarray:
        """Bin index of each value; len(labels) - 1 is the missing bin."""
        missing = len(self.labels) - 1
        if self.categorical:
            vals = np.asarray(col, dtype=object)
            idx = np.full(len(vals), len(self.categories), dtype=np.int64)  # "other"
            for i, c in enumerate(self.categories):
                idx[vals == c] = i
            miss = np.array([v is None or (isinstance(v, float) and math.isnan(v)) or v == "" for v in vals])
            idx[miss] = missing
            return idx
        x = np.asarray(col, dtype=float)
        idx = np.searchsorted(np.asarray(self.edges), x, side="left").astype(np.int64)
        idx[np.isnan(x)] = missing
        return idx


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def make_bins(name: str, col: np.ndarray, max_bins: int = 5, min_share: float = 0.05) -> FeatureBins:
    arr = np.asarray(col)
    if arr.dtype == object or arr.dtype.kind in "USb":
        vals = np.asarray(arr, dtype=object).astype(str)
        uniq, counts = np.unique(vals[vals != "None"], return_counts=True)
        by_count = sorted(zip(uniq, counts, strict=True), key=lambda t: -t[1])
        keep = [str(u) for u, c in by_count if c >= min_share * len(vals)]
        keep = keep[:12]
        labels = [f"= {c}" for c in keep] + ["other", "missing"]
        return FeatureBins(name, True, categories=keep, labels=labels)
    x = np.asarray(arr, dtype=float)
    finite = x[np.isfinite(x)]
    edges: list[float] = []
    if len(finite):
        qs = np.nanquantile(finite, np.linspace(0, 1, max_bins + 1)[1:-1])
        edges = sorted({float(q) for q in qs if q < finite.max()})
        # merge bins holding fewer than min_share of the rows
        while len(edges) > 0:
            idx = np.searchsorted(np.asarray(edges), finite, side="left")
            counts = np.bincount(idx, minlength=len(edges) + 1)
            small = np.nonzero(counts < min_share * len(finite))[0]
            if not len(small):
                break
            j = int(small[0])
            edges.pop(min(j, len(edges) - 1))
    labels = []
    lo = None
    for e in edges:
        labels.append(f"<= {_fmt(e)}" if lo is None else f"({_fmt(lo)}, {_fmt(e)}]")
        lo = e
    labels.append("all" if lo is None else f"> {_fmt(lo)}")
    labels.append("missing")
    return FeatureBins(name, False, edges=edges, labels=labels)


@dataclass
class Scorecard:
    bins: list[FeatureBins]
    used: list[int]  # indices into bins entering the regression
    coef: list[float]
    intercept: float
    pdo: float = 20.0
    base_points: float = 600.0

    @classmethod
    def fit(cls, columns: Mapping[str, np.ndarray], y: np.ndarray, max_bins: int = 5, min_iv: float = 0.02,
            max_features: int = 12, pdo: float = 20.0, base_points: float = 600.0) -> Scorecard:
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(y).astype(bool)
        n1, n0 = max(int(y.sum()), 1), max(int((~y).sum()), 1)
        all_bins = []
        for name, col in columns.items():
            fb = make_bins(name, np.asarray(col), max_bins)
            idx = fb.assign(np.asarray(col))
            k = len(fb.labels)
            ev = np.bincount(idx[y], minlength=k).astype(float)
            ne = np.bincount(idx[~y], minlength=k).astype(float)
            de, dn = (ev + 0.5) / (n1 + 0.5 * k), (ne + 0.5) / (n0 + 0.5 * k)
            w = np.log(de / dn)
            present = (ev + ne) > 0
            w[~present] = 0.0
            fb.woe = [round(float(v), 4) for v in w]
            fb.counts = [int(v) for v in ev + ne]
            fb.event_rates = [round(float(e / t), 4) if t else 0.0 for e, t in zip(ev, ev + ne, strict=True)]
            fb.iv = round(float(np.sum(((de - dn) * w)[present])), 4)
            all_bins.append(fb)
        order = sorted(range(len(all_bins)), key=lambda i: -all_bins[i].iv)
        used = [i for i in order if all_bins[i].iv >= min_iv][:max_features] or order[:1]
        card = cls(all_bins, used, [], 0.0, pdo, base_points)
        W = card.woe_matrix(columns)
        lr = LogisticRegression(C=1.0, max_iter=2000)
        lr.fit(W, y.astype(int))
        card.coef = [float(c) for c in lr.coef_[0]]
        card.intercept = float(lr.intercept_[0])
        return card

    def woe_matrix(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        cols = []
        for i in self.used:
            fb = self.bins[i]
            cols.append(np.asarray(fb.woe)[fb.assign(np.asarray(columns[fb.name]))])
        return np.column_stack(cols)

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2.0)

    def _bin_points(self, j: int, woe: np.ndarray | float) -> np.ndarray | float:
        m = len(self.used)
        return self.factor * (self.coef[j] * woe + self.intercept / m) + self.base_points / m

    def points(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        W = self.woe_matrix(columns)
        return sum(self._bin_points(j, W[:, j]) for j in range(len(self.used)))

    def predict_proba(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        logit = (self.points(columns) - self.base_points) / self.factor
        return 1.0 / (1.0 + np.exp(-logit))

    def table(self) -> list[dict[str, Any]]:
        """The points table: one row per (feature, bin) of the features in use."""
        rows = []
        for j, i in enumerate(self.used):
            fb = self.bins[i]
            for b, label in enumerate(fb.labels):
                if fb.counts[b] == 0:
                    continue
                rows.append({"feature": fb.name, "bin": label, "n": fb.counts[b], "event_rate": fb.event_rates[b],
                             "woe": fb.woe[b], "points": round(float(self._bin_points(j, fb.woe[b])), 1),
                             "iv": fb.iv})
        return rows

    def explain(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Why one account scores as it does: its bin and points per feature, largest first."""
        out = []
        for j, i in enumerate(self.used):
            fb = self.bins[i]
            b = int(fb.assign(np.asarray([row.get(fb.name)], dtype=object if fb.categorical else float))[0])
            out.append({"feature": fb.name, "value": row.get(fb.name), "bin": fb.labels[b],
                        "points": round(float(self._bin_points(j, fb.woe[b])), 1)})
        return sorted(out, key=lambda r: -r["points"])

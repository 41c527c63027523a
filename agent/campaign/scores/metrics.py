"""Score evaluation figures: AUC, KS, Brier, calibration by bin, lift by decile, precision in the top k."""
from __future__ import annotations

from typing import Any

import numpy as np


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (rank formulation, ties averaged)."""
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(p)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def ks(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the score CDFs of positives and negatives."""
    y = np.asarray(y).astype(bool)
    if y.all() or (~y).all():
        return float("nan")
    order = np.argsort(-np.asarray(p), kind="stable")
    ys = y[order]
    tpr = np.cumsum(ys) / ys.sum()
    fpr = np.cumsum(~ys) / (~ys).sum()
    # evaluate only at the last index of each tied score value
    ps = np.asarray(p)[order]
    last = np.r_[ps[1:] != ps[:-1], True]
    return float(np.max(np.abs(tpr[last] - fpr[last])))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p) - np.asarray(y, dtype=float)) ** 2))


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted vs observed rate in equal-count bins of the score."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    out = []
    for part in np.array_split(order, bins):
        if len(part):
            out.append({"n": int(len(part)), "predicted": round(float(p[part].mean()), 4),
                        "observed": round(float(y[part].mean()), 4)})
    return out


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    cal = calibration(y, p, bins)
    n = sum(c["n"] for c in cal)
    return float(sum(c["n"] * abs(c["predicted"] - c["observed"]) for c in cal) / max(n, 1))


def lift_by_decile(y: np.ndarray, p: np.ndarray) -> list[dict[str, float]]:
    """Deciles from the highest score down: response rate, lift over the base rate, cumulative capture."""
    y = np.asarray(y, dtype=float)
    order = np.argsort(-np.asarray(p), kind="stable")
    base = y.mean() if len(y) else 0.0
    total = y.sum()
    out, captured = [], 0.0
    for i, part in enumerate(np.array_split(order, 10), start=1):
        if not len(part):
            continue
        rate = float(y[part].mean())
        captured += y[part].sum()
        out.append({"decile": i, "n": int(len(part)), "rate": round(rate, 4),
                    "lift": round(rate / base, 3) if base else 0.0,
                    "cum_capture": round(float(captured / total), 4) if total else 0.0})
    return out


def precision_at_k(y: np.ndarray, p: np.ndarray, k: int) -> float:
    order = np.argsort(-np.asarray(p), kind="stable")[:k]
    return float(np.asarray(y, dtype=float)[order].mean()) if k else float("nan")


def summary(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    y = np.asarray(y)
    return {
        "n": int(len(y)), "positives": int(np.sum(y)), "base_rate": round(float(np.mean(y)), 4) if len(y) else 0.0,
        "auc": round(auc(y, p), 4), "ks": round(ks(y, p), 4), "brier": round(brier(y, p), 4),
        "ece": round(expected_calibration_error(y, p), 4),
        "calibration": calibration(y, p), "lift_by_decile": lift_by_decile(y, p),
    }

"""Hold-out evaluation of the scores: on the lender's own history and on the shipped public data sets."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from agent.campaign.scores import metrics
from agent.campaign.scores.features import HistoryTable, accounts_to_columns
from agent.campaign.scores.model import FeatureSpec, build_training_set, fit_classifier
from agent.campaign.scores.scorecard import Scorecard

ISLR_CARAVAN = {  # ISLR (James et al.), lab 4.6.6: glm on the 4,822 training customers, test = first 1,000
    "logistic_cutoff_0.25": {"predicted_buyers": 33, "correct": 11, "precision": 0.333},
    "knn_k5": {"predicted_buyers": 15, "correct": 4, "precision": 0.267},
    "test_base_rate": 0.059,
}


def stratified_test_mask(y: np.ndarray, share: float = 0.3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for cls in (0, 1):
        idx = np.nonzero(np.asarray(y) == cls)[0]
        rng.shuffle(idx)
        test[idx[: int(round(share * len(idx)))]] = True
    return test


def one_hot(columns: Mapping[str, np.ndarray], train: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Numeric columns as they are; text columns one-hot over the categories seen in training."""
    parts, names = [], []
    for name, col in columns.items():
        arr = np.asarray(col)
        if arr.dtype == object:
            cats = sorted({str(v) for v in arr[train] if v is not None})
            for c in cats:
                parts.append((arr == c).astype(float))
                names.append(f"{name}={c}")
        else:
            parts.append(arr.astype(float))
            names.append(name)
    return np.column_stack(parts), names


def _subset(columns: Mapping[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: np.asarray(v)[mask] for k, v in columns.items()}


def evaluate_columns(columns: Mapping[str, np.ndarray], y: np.ndarray, test: np.ndarray, seed: int = 0,
                     top_k: int | None = None, scorecard_rows: int = 12) -> dict[str, Any]:
    """Fit logistic regression, LightGBM and the WOE scorecard on ~test rows; report test-set figures."""
    y = np.asarray(y).astype(int)
    train = ~test
    X, _ = one_hot(columns, train)
    out: dict[str, Any] = {"n_train": int(train.sum()), "n_test": int(test.sum()),
                           "test_base_rate": round(float(y[test].mean()), 4), "models": {}}
    probs: dict[str, np.ndarray] = {}
    for backend in ("logistic", "lightgbm"):
        model, _ = fit_classifier(X[train], y[train], backend, seed)
        probs[backend] = model.predict_proba(X[test])[:, 1]
    card = Scorecard.fit(_subset(columns, train), y[train])
    probs["scorecard"] = card.predict_proba(_subset(columns, test))
    for name, p in probs.items():
        s = metrics.summary(y[test], p)
        if top_k:
            s[f"precision_top_{top_k}"] = round(metrics.precision_at_k(y[test], p, top_k), 4)
        out["models"][name] = s
    out["scorecard_table"] = card.table()[: scorecard_rows * 6]
    out["scorecard_features"] = [{"feature": card.bins[i].name, "iv": card.bins[i].iv} for i in card.used]
    return out


def evaluate_public(name: str, seed: int = 0) -> dict[str, Any]:
    from agent.campaign.scores.public import load

    ds = load(name)
    test = ds.test_mask if ds.test_mask is not None else stratified_test_mask(ds.y, 0.3, seed)
    top_k = 33 if name == "caravan" else None
    res = evaluate_columns(ds.columns, ds.y, test, seed, top_k=top_k)
    res = {"dataset": name, "source": ds.source, "event": ds.event, "rows": int(len(ds.y)), **res}
    if name == "caravan":
        res["islr_comparison"] = caravan_islr_comparison(ds)
    return res


def caravan_islr_comparison(ds) -> dict[str, Any]:
    """Replicates the ISLR lab set-up (unpenalised logistic regression, 0.25 cut-off) and ranks by our models."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    test = ds.test_mask
    X, _ = one_hot(ds.columns, ~test)
    y = ds.y
    glm = make_pipeline(StandardScaler(), LogisticRegression(C=1e6, max_iter=5000))
    glm.fit(X[~test], y[~test])
    p = glm.predict_proba(X[test])[:, 1]
    pred = p > 0.25
    correct = int((pred & (y[test] == 1)).sum())
    return {
        "ours_glm_cutoff_0.25": {"predicted_buyers": int(pred.sum()), "correct": correct,
                                 "precision": round(correct / max(int(pred.sum()), 1), 4)},
        "published_islr": ISLR_CARAVAN,
    }


def evaluate_history(accounts: Sequence[Mapping[str, Any]], history: Sequence[Mapping[str, Any]],
                     purpose: str = "collections", horizon_days: int = 14, seed: int = 0,
                     backend: str = "auto") -> dict[str, Any]:
    """Grouped hold-out (30 % of accounts) over the snapshot rows of the lender's own history."""
    from agent.errors import UserError

    columns = accounts_to_columns(accounts)
    tz = {str(a.get("id")): a.get("timezone") for a in accounts}
    table = HistoryTable.build([h for h in history if str(h.get("account_id")) in tz], tz)
    spec = FeatureSpec.learn(columns)
    ts = build_training_set(columns, table, purpose, spec, horizon_days)
    X, y, acct = ts.scored()
    if len(y) < 50 or y.sum() < 10 or (len(y) - y.sum()) < 10:
        raise UserError(f"too little history to evaluate ({len(y)} called rows, {int(y.sum())} positive); "
                        "at least 50 rows with 10 of each outcome are needed")
    rng = np.random.default_rng(seed)
    test_accounts = rng.random(len(accounts)) < 0.3
    test = test_accounts[acct]
    model, used = fit_classifier(X[~test], y[~test], backend, seed)
    p = model.predict_proba(X[test])[:, 1]
    res: dict[str, Any] = {"purpose": purpose, "horizon_days": horizon_days, "backend": used,
                           "n_train": int((~test).sum()), "n_test": int(test.sum()), **metrics.summary(y[test], p)}
    names = ts.feature_names
    cols_train = {n: X[~test][:, j] for j, n in enumerate(names)}
    cols_test = {n: X[test][:, j] for j, n in enumerate(names)}
    card = Scorecard.fit(cols_train, y[~test])
    res["scorecard_auc"] = round(metrics.auc(y[test], card.predict_proba(cols_test)), 4)
    res["scorecard_table"] = card.table()
    return res

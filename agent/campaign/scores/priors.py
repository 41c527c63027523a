"""Rule-based cold-start priors, used until a lender's own history is rich enough to train a model.

The rules (documented in docs/scores.md, vectorised over columns):

Collections, P(pays or promises within the horizon | called):
  base by delinquency bucket  M0 0.70 · M1 0.40 · M2 0.22 · M3 0.12 · M4+ 0.07
  (bucket from days past due when missing: 0 -> M0, 1-30 -> M1, 31-60 -> M2, ...),
  x (1 - 0.3 x position of days past due inside its 30-day bucket),
  x balance factor clip(1.25 - 0.12 * log10(balance), 0.6, 1.2)   (small balances pay more often),
  x history factors when the account has history: 1.15 if it promised before, 0.6 after a refusal /
  dispute / hang-up / opt-out, 0.5 after a wrong number or third party.
Telesales, P(converts | called):
  base 0.04, x 0.5 when delinquent (days past due > 0), x 0.5 without recorded consent,
  x 1.2 after a right-party contact without a negative outcome, x 0.3 after a negative outcome,
  x 0.5 when already converted.
Every prior is clipped to [0.005, 0.95].
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from agent.campaign.scores.features import HISTORY_FEATURES, _col, bucket_ordinals, n_rows

BUCKET_BASE = np.array([0.70, 0.40, 0.22, 0.12, 0.07, 0.07, 0.07])
TELESALES_BASE = 0.04
_H = {name: i for i, name in enumerate(HISTORY_FEATURES)}


def collections_prior(columns: Mapping[str, Any], hist: np.ndarray | None = None) -> np.ndarray:
    n = n_rows(columns)
    b = bucket_ordinals(columns, n).astype(int)
    p = BUCKET_BASE[np.clip(b, 0, 6)]
    dpd = np.nan_to_num(_col(columns, "days_past_due", n), nan=0.0)
    pos = np.where(b >= 1, np.clip((dpd - 30.0 * (b - 1)) / 30.0, 0.0, 1.0), 0.0)
    p = p * (1.0 - 0.3 * pos)
    bal = np.nan_to_num(_col(columns, "balance", n), nan=1000.0)
    p = p * np.clip(1.25 - 0.12 * np.log10(np.maximum(bal, 1.0)), 0.6, 1.2)
    if hist is not None:
        p = p * np.where(hist[:, _H["h_ptp"]] > 0, 1.15, 1.0)
        p = p * np.where(hist[:, _H["h_negative"]] > 0, 0.6, 1.0)
        p = p * np.where(hist[:, _H["h_wrong_party"]] > 0, 0.5, 1.0)
    return np.clip(p, 0.005, 0.95)


def telesales_prior(columns: Mapping[str, Any], hist: np.ndarray | None = None) -> np.ndarray:
    n = n_rows(columns)
    p = np.full(n, TELESALES_BASE)
    dpd = np.nan_to_num(_col(columns, "days_past_due", n), nan=0.0)
    p = p * np.where(dpd > 0, 0.5, 1.0)
    consent = np.nan_to_num(_col(columns, "consent", n, 1.0), nan=1.0)
    p = p * np.where(consent > 0, 1.0, 0.5)
    if hist is not None:
        neg = hist[:, _H["h_negative"]] > 0
        rpc = hist[:, _H["h_recency_rpc"]]
        p = p * np.where(neg, 0.3, np.where(rpc > 0, 1.2, 1.0))
        p = p * np.where(hist[:, _H["h_converted"]] > 0, 0.5, 1.0)
    return np.clip(p, 0.005, 0.95)


def prior(purpose: str, columns: Mapping[str, Any], hist: np.ndarray | None = None) -> np.ndarray:
    if purpose == "telesales":
        return telesales_prior(columns, hist)
    return collections_prior(columns, hist)

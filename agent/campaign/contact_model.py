"""P(the right party answers) per account and hour of week: hierarchical Beta-Binomial + Thompson.

Levels (each a Beta prior for the next, learned from past dials, never from any ground truth):
  global hour of day  ->  global hour of week  ->  segment hour of day  ->  segment hour of week
  ->  the account (its own answer level and its own hour-of-day counts).
`mean` gives posterior means (for ranking); `sample` gives Thompson draws (for choosing hours, so
untried hours still get tried).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOURS_OF_WEEK = 168


@dataclass
class ContactModel:
    how_mean: np.ndarray        # (168,) global hour-of-week rate
    seg_how_mean: np.ndarray    # (n_seg, 168)
    acc_row: np.ndarray         # (n_acc,) row in the account tables, -1 without history
    acc_level: np.ndarray       # (n_rows,) multiplicative answer level of the account
    acc_hod_s: np.ndarray       # (n_rows, 24) right-party answers
    acc_hod_n: np.ndarray       # (n_rows, 24) dials
    account_strength: float = 4.0

    @classmethod
    def fit(cls, n_accounts: int, seg_of_account: np.ndarray, n_seg: int, hist_acc: np.ndarray,
            hist_how: np.ndarray, hist_rpc: np.ndarray, *, base_rate: float = 0.3,
            hod_strength: float = 20.0, how_strength: float = 10.0, seg_strength: float = 15.0,
            seg_level_strength: float = 30.0, level_strength: float = 3.0,
            account_strength: float = 4.0) -> ContactModel:
        keep = hist_acc >= 0
        acc, how, y = hist_acc[keep], hist_how[keep], hist_rpc[keep].astype(float)
        hod = how % 24
        n_tot = len(y)
        m = (base_rate * 10 + y.sum()) / (10 + n_tot)
        hod_s = np.bincount(hod, y, 24)
        hod_n = np.bincount(hod, minlength=24).astype(float)
        hod_mean = (hod_strength * m + hod_s) / (hod_strength + hod_n)
        how_s = np.bincount(how, y, HOURS_OF_WEEK)
        how_n = np.bincount(how, minlength=HOURS_OF_WEEK).astype(float)
        prior_how = hod_mean[np.arange(HOURS_OF_WEEK) % 24]
        how_mean = (how_strength * prior_how + how_s) / (how_strength + how_n)
        week_ratio = how_mean / prior_how  # weekday/weekend shape on top of the hour of day

        seg = seg_of_account[acc]
        # segment answer level relative to what the global hours predict
        exp_seg = np.bincount(seg, how_mean[how], n_seg)
        got_seg = np.bincount(seg, y, n_seg)
        level = (seg_level_strength + got_seg) / (seg_level_strength + exp_seg)
        seg_hod_s = np.bincount(seg * 24 + hod, y, n_seg * 24).reshape(n_seg, 24)
        seg_hod_n = np.bincount(seg * 24 + hod, minlength=n_seg * 24).reshape(n_seg, 24).astype(float)
        prior_seg_hod = np.clip(hod_mean[None, :] * level[:, None], 1e-4, 0.999)
        seg_hod_mean = (seg_strength * prior_seg_hod + seg_hod_s) / (seg_strength + seg_hod_n)
        seg_how_s = np.bincount(seg * HOURS_OF_WEEK + how, y, n_seg * HOURS_OF_WEEK).reshape(n_seg, HOURS_OF_WEEK)
        seg_how_n = np.bincount(seg * HOURS_OF_WEEK + how, minlength=n_seg * HOURS_OF_WEEK).reshape(
            n_seg, HOURS_OF_WEEK).astype(float)
        prior_seg_how = np.clip(np.tile(seg_hod_mean, 7) * week_ratio[None, :], 1e-4, 0.999)
        seg_how_mean = (seg_strength * prior_seg_how + seg_how_s) / (seg_strength + seg_how_n)

        # accounts with history: their own level and hour-of-day counts
        uniq, rows = np.unique(acc, return_inverse=True)
        acc_row = np.full(n_accounts, -1, np.int64)
        acc_row[uniq] = np.arange(len(uniq))
        nr = len(uniq)
        expected = np.bincount(rows, seg_how_mean[seg, how], nr)
        got = np.bincount(rows, y, nr)
        acc_level = (level_strength + got) / (level_strength + expected)
        acc_hod_s = np.bincount(rows * 24 + hod, y, nr * 24).reshape(nr, 24)
        acc_hod_n = np.bincount(rows * 24 + hod, minlength=nr * 24).reshape(nr, 24).astype(float)
        return cls(how_mean, seg_how_mean, acc_row, acc_level, acc_hod_s, acc_hod_n, account_strength)

    def _ab(self, acc: np.ndarray, seg: np.ndarray, how: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Beta parameters for dialling account `acc` (segment `seg`) at hour of week `how` (broadcast)."""
        p0 = self.seg_how_mean[seg, how]
        row = self.acc_row[acc]
        has = row >= 0
        k = self.account_strength
        a = k * p0
        b = k * (1 - p0)
        if np.any(has):
            r = np.where(has, row, 0)
            p1 = np.clip(p0 * np.where(has, self.acc_level[r], 1.0), 1e-4, 0.999)
            hod = how % 24
            s = np.where(has, self.acc_hod_s[r, hod], 0.0)
            n = np.where(has, self.acc_hod_n[r, hod], 0.0)
            a = k * p1 + s
            b = k * (1 - p1) + (n - s)
        return a, b

    def mean(self, acc, seg, how) -> np.ndarray:
        a, b = self._ab(np.asarray(acc), np.asarray(seg), np.asarray(how))
        return a / (a + b)

    def sample(self, rng: np.random.Generator, acc, seg, how) -> np.ndarray:
        a, b = self._ab(np.asarray(acc), np.asarray(seg), np.asarray(how))
        return rng.beta(a, b)

"""Script variant choice: a contextual Thompson-sampling bandit with a minimum exploration share.

Arms are the variants of a script family (purpose, bucket or product, language). The context is the
account's segment. Reward: the right party promised (ptp) or converted, judged only on right-party
contacts (a variant cannot make someone answer). Hierarchy: family rate -> variant rate -> variant
rate in the segment. A share `explore` of choices is uniform at random, so A/B results stay measurable.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ScriptBandit:
    mean_fv: np.ndarray     # (n_fam, n_var) posterior mean per family variant
    s: np.ndarray           # (n_fam, n_var, n_ctx) successes
    n: np.ndarray           # (n_fam, n_var, n_ctx) trials
    n_variants: np.ndarray  # (n_fam,)
    ctx_strength: float = 20.0

    @classmethod
    def fit(cls, n_variants: np.ndarray, n_ctx: int, fam: np.ndarray, var: np.ndarray, ctx: np.ndarray,
            success: np.ndarray, *, base_rate: float = 0.2, fam_strength: float = 5.0,
            var_strength: float = 20.0, ctx_strength: float = 20.0) -> ScriptBandit:
        n_fam = len(n_variants)
        n_var = int(max(n_variants.max(initial=1), 1))
        y = success.astype(float)
        fam_s = np.bincount(fam, y, n_fam)
        fam_n = np.bincount(fam, minlength=n_fam).astype(float)
        fam_mean = (fam_strength * base_rate + fam_s) / (fam_strength + fam_n)
        cell = fam * n_var + var
        fv_s = np.bincount(cell, y, n_fam * n_var).reshape(n_fam, n_var)
        fv_n = np.bincount(cell, minlength=n_fam * n_var).reshape(n_fam, n_var).astype(float)
        mean_fv = (var_strength * fam_mean[:, None] + fv_s) / (var_strength + fv_n)
        c3 = cell * n_ctx + ctx
        s = np.bincount(c3, y, n_fam * n_var * n_ctx).reshape(n_fam, n_var, n_ctx)
        n = np.bincount(c3, minlength=n_fam * n_var * n_ctx).reshape(n_fam, n_var, n_ctx).astype(float)
        return cls(mean_fv, s, n, n_variants.astype(np.int64), ctx_strength)

    def posterior(self, fam: np.ndarray, ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Beta (a, b) per account and variant: shape (len(fam), n_var)."""
        m = np.clip(self.mean_fv[fam], 1e-4, 0.999)           # (k, V)
        s = self.s[fam, :, ctx]                                # (k, V)
        n = self.n[fam, :, ctx]
        a = self.ctx_strength * m + s
        b = self.ctx_strength * (1 - m) + (n - s)
        return a, b

    def choose(self, rng: np.random.Generator, fam: np.ndarray, ctx: np.ndarray,
               explore: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
        """(variant index, posterior mean of the chosen variant) per account."""
        fam = np.asarray(fam, np.int64)
        ctx = np.asarray(ctx, np.int64)
        k = len(fam)
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        a, b = self.posterior(fam, ctx)
        nv = self.n_variants[fam]
        valid = np.arange(a.shape[1])[None, :] < nv[:, None]
        draw = np.where(valid, rng.beta(a, b), -1.0)
        choice = draw.argmax(axis=1)
        uniform = (rng.random(k) * nv).astype(np.int64)
        explored = rng.random(k) < explore
        choice = np.where(explored, uniform, choice)
        mean = (a / (a + b))[np.arange(k), choice]
        return choice, mean

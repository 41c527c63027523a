"""Collection score (P(pay within N days | called), uplift of calling) and response score (P(convert)).

Public API::

    from agent.campaign.scores import fit_scorer
    scorer = fit_scorer(accounts, history, purpose="collections")   # or "telesales"
    scorer.score(account) -> float
    scorer.uplift(account) -> float | None
    scorer.score_many(columns) -> np.ndarray      # columns from accounts_to_columns(...) or your own arrays
    scorer.uplift_many(columns) -> np.ndarray | None
    scorer.info                                   # mode ("model" | "prior"), backend, rows, reason

See docs/scores.md for the feature set, the priors and the evaluation figures.
"""
from agent.campaign.scores.features import HISTORY_FEATURES, STATIC_FEATURES, FeatureSpec, accounts_to_columns
from agent.campaign.scores.model import Scorer, ScorerInfo, build_training_set, fit_classifier, fit_scorer
from agent.campaign.scores.priors import collections_prior, prior, telesales_prior

__all__ = [
    "HISTORY_FEATURES", "STATIC_FEATURES", "FeatureSpec", "Scorer", "ScorerInfo", "accounts_to_columns",
    "build_training_set", "collections_prior", "fit_classifier", "fit_scorer", "prior", "telesales_prior",
]

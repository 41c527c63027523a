"""Natural-language understanding for callee utterances (zh/en): intents, context, entities.

    from nlu import classify
    u = classify("我明天就还两千", "zh", context="payment")
    u.intent, u.confidence, u.alternatives, u.entities
"""
from __future__ import annotations

from nlu.types import EXPECTS, Understanding, intent_names, must_not_miss


def classify(text, lang="en", context=None, today=None) -> Understanding:
    """Classify one utterance. Loads the shipped model on first use (process-wide cache)."""
    from nlu.classifier import classify as _classify

    return _classify(text, lang, context, today)


def load_model(path=None):
    """Load the model at `path` (default: the one shipped in nlu/model/) as the process-wide model."""
    from nlu.classifier import load_model as _load

    return _load(path)


def extract_entities(text, lang="en", today=None) -> dict:
    from nlu.entities import extract

    return extract(text, lang, today)


__all__ = ["classify", "load_model", "extract_entities", "Understanding", "EXPECTS", "intent_names",
           "must_not_miss"]

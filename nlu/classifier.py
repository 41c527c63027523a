"""classify(): text + language + dialog context -> Understanding (intent, calibrated confidence, entities)."""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import numpy as np

from nlu.corpus import context_rules, is_short_reply, short_reply_rules
from nlu.features import Featurizer
from nlu.guard import guard_hits
from nlu.identity_denial import denies_identity
from nlu.intent_model import IntentModel
from nlu.text import has_cjk, is_garbage, normalize
from nlu.types import EXPECTS, Understanding, must_not_miss

OOS = "out_of_scope"
GUARD_MIN_PROB = 0.02      # a guard hit overrides the model when the model gives it at least this much...
GUARD_WEAK_TOP = 0.75      # ...or when the model's own top choice is weaker than this
GUARD_CONFIDENCE = 0.6     # floor on the reported confidence of a guard-backed must-not-miss intent
GUARD_CONTESTED_TOP = 0.6  # model top is itself must-not-miss: the lexicon overrides only below this...
GUARD_CONTESTED_MIN = 0.05  # ...and only if the model gives the lexicon's intent at least this much


class Classifier:
    """Holds the loaded model and featurizer. Thread-safe for concurrent calls (numpy only)."""

    def __init__(self, model: IntentModel):
        self.model = model
        self.featurizer = Featurizer()
        self.rules = context_rules()
        self.short_rules = short_reply_rules()
        self.mnm = set(must_not_miss())
        self.featurizer.transform(["warm up"], ["en"], ["open"])  # load USE weights now, not on the first call

    def classify(self, text: str, lang: str = "en", context: str | None = None,
                 today: dt.date | None = None) -> Understanding:
        from nlu.entities import extract

        raw = text if isinstance(text, str) else ""
        lang = (lang or "").lower()[:2] if isinstance(lang, str) else ""
        lang = lang if lang in ("zh", "en") else ("zh" if has_cjk(raw) else "en")
        ctx = context if context in EXPECTS else "open"
        if is_garbage(raw):
            return Understanding(OOS, 1.0, raw, lang, [], extract("", lang, today))
        norm = normalize(raw)
        if not norm:
            return Understanding(OOS, 1.0, raw, lang, [], extract("", lang, today))
        x = self.featurizer.transform([norm], [lang], [ctx], normalized=True)
        raw_probs = self.model.predict_proba(x)[0]
        names = self.model.intents
        # context: every reading that the question resolves to the same intent pools its probability
        mapping = dict(self.rules.get(ctx, {}))
        if is_short_reply(norm):
            mapping.update(self.short_rules.get(ctx, {}))
        probs = np.zeros_like(raw_probs)
        for i, n in enumerate(names):
            probs[names.index(mapping.get(n, n))] += raw_probs[i]
        order = np.argsort(-probs)
        intent, conf = names[order[0]], float(probs[order[0]])
        if intent == "confirm_identity" and denies_identity(norm):  # "不是我", "It's not me": not a confirmation
            intent = "deny"

        hits = [h for h in guard_hits(norm, lang) if h in self.mnm]
        if hits and intent not in hits:
            best = max(hits, key=lambda h: probs[names.index(h)])
            p_best = float(probs[names.index(best)])
            if intent not in self.mnm:
                override = p_best >= GUARD_MIN_PROB or conf < GUARD_WEAK_TOP
            else:  # two must-not-miss readings: the lexicon decides only when the model is unsure
                override = conf < GUARD_CONTESTED_TOP and p_best >= GUARD_CONTESTED_MIN
            if override:
                intent, conf = best, max(p_best, min(conf, GUARD_CONFIDENCE))
        elif not hits and conf < self.model.oos_threshold and intent not in self.mnm:
            intent, conf = OOS, max(float(probs[names.index(OOS)]), 1.0 - conf)
        alternatives = [(names[i], float(probs[i])) for i in order[:4] if names[i] != intent and probs[i] > 0][:3]
        return Understanding(intent, conf, raw, lang, alternatives, extract(raw, lang, today, ctx))


_lock = threading.Lock()
_classifier: Classifier | None = None


def load_model(path: str | Path | None = None) -> Classifier:
    """Load (or reload from `path`) the process-wide classifier."""
    global _classifier
    with _lock:
        _classifier = Classifier(IntentModel.load(path))
        return _classifier


def get_classifier() -> Classifier:
    global _classifier
    if _classifier is None:
        with _lock:
            if _classifier is None:
                _classifier = Classifier(IntentModel.load())
    return _classifier


def classify(text: str, lang: str = "en", context: str | None = None,
             today: dt.date | None = None) -> Understanding:
    return get_classifier().classify(text, lang, context, today)

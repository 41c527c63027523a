"""`dialwise bench nlu`: held-out accuracy/macro-F1 per language, must-not-miss recall, entity exact
match, fixture-transcript accuracy and latency. Returns one dict (printed as one JSON object).

Every evaluation row belongs to dev or test by the protocol's split (speech/evalset/protocol.py; the
must-not-miss stress set is test only). Figures are reported for each split separately; targets are
checked on test, which nothing was trained or tuned on."""
from __future__ import annotations

import datetime as dt
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from nlu.corpus import DATA_DIR, load_heldout, load_yaml
from nlu.entities import ENTITY_KEYS, extract
from nlu.evaluate import predict, score
from nlu.types import must_not_miss

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "telephony_adapter" / "sim" / "voices" / "manifest.jsonl"
ENTITY_TABLE = DATA_DIR / "entities_test.yaml"
MNM_STRESS = DATA_DIR / "mnm_stress.yaml"


def mnm_stress_rows():
    from nlu.corpus import Example

    data = load_yaml(MNM_STRESS)
    return [Example(str(t), lang, intent) for intent, by_lang in data.items() for lang in ("zh", "en")
            for t in by_lang.get(lang) or []]


def _split(text: str, file: str) -> str:
    from speech.evalset.material import nlu_split

    return nlu_split(text, file)


def blind_scores(clf, split: str | None = None) -> dict[str, Any]:
    """The blind check (data/blind.yaml), scored on the rows whose normalised text is not in training."""
    from nlu.corpus import load_train
    from nlu.text import normalize

    seen = {normalize(r.text) for r in load_train()}
    rows = [r for r in load_heldout(DATA_DIR / "blind.yaml") if normalize(r.text) not in seen
            and (split is None or _split(r.text, "blind.yaml") == split)]
    pred = predict(clf, rows)
    out: dict[str, Any] = {"n": len(rows)}
    for lang in ("zh", "en"):
        idx = [i for i, r in enumerate(rows) if r.lang == lang]
        out[f"accuracy_{lang}"] = round(sum(pred[i] == rows[i].intent for i in idx) / max(1, len(idx)), 4)
    out["errors"] = [{"text": r.text, "gold": r.intent, "pred": p}
                     for r, p in zip(rows, pred, strict=True) if p != r.intent]
    return out


def mnm_stress(clf) -> dict[str, Any]:
    """Recall on indirect must-not-miss phrasings, merged (model + lexicon) and model alone."""
    import nlu.classifier as classifier

    rows = mnm_stress_rows()
    merged = predict(clf, rows)
    saved = classifier.guard_hits
    classifier.guard_hits = lambda normalized_text, lang: []
    try:
        alone = predict(clf, rows)
    finally:
        classifier.guard_hits = saved
    return {"n": len(rows),
            "recall": round(sum(p == r.intent for p, r in zip(merged, rows, strict=True)) / len(rows), 4),
            "recall_model_only": round(sum(p == r.intent for p, r in zip(alone, rows, strict=True)) / len(rows), 4),
            "misses": [{"text": r.text, "gold": r.intent, "pred": p}
                       for p, r in zip(merged, rows, strict=True) if p != r.intent]}


def entity_rows() -> list[dict[str, Any]]:
    data = load_yaml(ENTITY_TABLE)
    default_today = dt.date.fromisoformat(str(data["today"]))
    rows = []
    for r in data["rows"]:
        today = dt.date.fromisoformat(str(r["today"])) if "today" in r else default_today
        expect = {k: r.get(k) for k in ENTITY_KEYS}
        if expect["amount"] is not None:
            expect["amount"] = float(expect["amount"])
        for k in ("date", "time", "last4"):
            if expect[k] is not None:
                expect[k] = str(expect[k])
        rows.append({"text": str(r["text"]), "lang": r["lang"], "today": today, "context": r.get("context"),
                     "expect": expect})
    return rows


def entity_scores(split: str | None = None) -> dict[str, Any]:
    rows = [r for r in entity_rows() if split is None or _split(r["text"], "entities_test.yaml") == split]
    misses = []
    for r in rows:
        got = extract(r["text"], r["lang"], r["today"], r["context"])
        if got != r["expect"]:
            misses.append({"text": r["text"], "expect": r["expect"], "got": got})
    return {"n": len(rows), "exact_match": round(1 - len(misses) / len(rows), 4), "misses": misses[:20]}


def fixture_rows(split: str | None = None):
    from nlu.corpus import Example
    from speech.evalset.material import fixture_rows as with_split

    if not FIXTURES.exists():
        return []
    return [Example(d["text"], d["lang"], d["intent"]) for d in with_split(FIXTURES)
            if split is None or d["split"] == split]


def load_seconds() -> float:
    """Cold model load (model file + USE weights + first call) in a fresh interpreter."""
    code = ("import time; t=time.perf_counter(); from nlu.classifier import load_model; "
            "load_model(); print(time.perf_counter()-t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), timeout=120)
    try:
        return round(float(out.stdout.strip().splitlines()[-1]), 3)
    except (ValueError, IndexError):
        return -1.0


def split_scores(clf, split: str, with_fixtures: bool = True) -> dict[str, Any]:
    """Every figure of one split ("dev" or "test")."""
    held = [r for r in load_heldout() if _split(r.text, "heldout.yaml") == split]
    plain = [r for r in held if r.context is None]
    ctx_rows = [r for r in held if r.context is not None]
    pred = predict(clf, plain)
    result: dict[str, Any] = {}
    for lang in ("zh", "en"):
        idx = [i for i, r in enumerate(plain) if r.lang == lang]
        s = score([plain[i].intent for i in idx], [pred[i] for i in idx])
        result[f"heldout_{lang}"] = {"n": s["n"], "accuracy": s["accuracy"], "macro_f1": s["macro_f1"]}
    overall = score([r.intent for r in plain], pred)
    result["heldout_all"] = {"n": overall["n"], "accuracy": overall["accuracy"], "macro_f1": overall["macro_f1"],
                             "confused": overall["confused"][:5]}
    ctx_pred = predict(clf, ctx_rows)
    ctx_right = sum(p == r.intent for p, r in zip(ctx_pred, ctx_rows, strict=True))
    result["context"] = {"n": len(ctx_rows), "accuracy": round(ctx_right / max(1, len(ctx_rows)), 4),
                         "errors": [{"text": r.text, "context": r.context, "gold": r.intent, "pred": p}
                                    for r, p in zip(ctx_rows, ctx_pred, strict=True) if p != r.intent]}
    mnm = set(must_not_miss())
    gold_m = [(r, p) for r, p in zip(plain, pred, strict=True) if r.intent in mnm]
    result["must_not_miss"] = {
        "recall": round(sum(p == r.intent for r, p in gold_m) / max(1, len(gold_m)), 4),
        "n": len(gold_m),
        "per_intent": {m: overall["per_intent"].get(m, {}).get("recall") for m in sorted(mnm)},
        "precision": round(sum(p == r.intent for r, p in zip(plain, pred, strict=True) if p in mnm)
                           / max(1, sum(p in mnm for p in pred)), 4),
    }
    if split == "test":  # the stress set is test only
        result["must_not_miss"]["stress"] = mnm_stress(clf)
    result["blind"] = blind_scores(clf, split)
    result["entities"] = entity_scores(split)
    if with_fixtures:
        fx = fixture_rows(split)
        if fx:
            fp = predict(clf, fx)
            s = score([r.intent for r in fx], fp)
            result["fixtures"] = {"n": s["n"], "accuracy": s["accuracy"], "macro_f1": s["macro_f1"],
                                  "errors": [{"text": r.text, "gold": r.intent, "pred": p}
                                             for r, p in zip(fx, fp, strict=True) if r.intent != p]}
    return result


def run_bench(clf, with_fixtures: bool = True) -> dict[str, Any]:
    meta_keys = ("trained_at", "corpus_digest", "val_accuracy", "val_ece", "features")
    result: dict[str, Any] = {"model": {k: clf.model.meta.get(k) for k in meta_keys}}
    result["model"]["temperature"] = round(clf.model.temperature, 4)
    result["dev"] = split_scores(clf, "dev", with_fixtures)
    result["test"] = split_scores(clf, "test", with_fixtures)
    plain = [r for r in load_heldout() if r.context is None]
    texts = [(r.text, r.lang) for r in plain]
    for t, lang in texts[:20]:
        clf.classify(t, lang)  # warm-up
    times = []
    for t, lang in texts[:400]:
        t0 = time.perf_counter()
        clf.classify(t, lang)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    result["latency_ms"] = {"n": len(times), "p50": round(statistics.median(times), 2),
                            "p95": round(times[int(0.95 * (len(times) - 1))], 2)}
    result["load_s"] = load_seconds()
    test = result["test"]
    result["targets"] = {  # on test
        "accuracy>=0.93": min(test["heldout_zh"]["accuracy"], test["heldout_en"]["accuracy"]) >= 0.93,
        "must_not_miss_recall>=0.98": test["must_not_miss"]["recall"] >= 0.98,
        "entities>=0.95": test["entities"]["exact_match"] >= 0.95,
        "p50<=15ms": result["latency_ms"]["p50"] <= 15,
        "load<2s": 0 <= result["load_s"] < 2,
    }
    return result

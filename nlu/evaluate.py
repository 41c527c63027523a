"""Scoring a classifier on labelled utterances: accuracy, macro-F1, per-intent P/R, confusions."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from nlu.corpus import Example
from nlu.types import intent_names


def load_labelled(path: Path) -> list[Example]:
    """JSONL {text, lang, intent[, context]} or TSV text<TAB>lang<TAB>intent[<TAB>context] (header optional)."""
    rows: list[Example] = []
    names = set(intent_names())
    is_jsonl = path.suffix.lower() in (".jsonl", ".json")
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if is_jsonl:
            try:
                d = json.loads(line)
                ex = Example(str(d["text"]), str(d.get("lang", "en")), str(d["intent"]), d.get("context"))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: expected {{\"text\",\"lang\",\"intent\"}} JSON ({exc})") from None
        else:
            parts = line.split("\t")
            if n == 1 and parts[0].strip().lower() == "text":
                continue
            if len(parts) < 3:
                raise ValueError(f"{path}:{n}: expected text<TAB>lang<TAB>intent")
            ex = Example(parts[0], parts[1].strip(), parts[2].strip(), parts[3].strip() if len(parts) > 3 else None)
        if ex.intent not in names:
            raise ValueError(f"{path}:{n}: unknown intent {ex.intent!r}")
        rows.append(ex)
    if not rows:
        raise ValueError(f"{path}: no labelled rows")
    return rows


def score(gold: list[str], pred: list[str]) -> dict[str, Any]:
    labels = sorted(set(gold) | set(pred))
    tp = Counter(g for g, p in zip(gold, pred, strict=True) if g == p)
    gold_n, pred_n = Counter(gold), Counter(pred)
    per: dict[str, dict[str, float]] = {}
    f1s = []
    for lab in labels:
        p = tp[lab] / pred_n[lab] if pred_n[lab] else 0.0
        r = tp[lab] / gold_n[lab] if gold_n[lab] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        per[lab] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": gold_n[lab]}
        if gold_n[lab]:
            f1s.append(f)
    confusions = Counter((g, p) for g, p in zip(gold, pred, strict=True) if g != p)
    return {
        "n": len(gold),
        "accuracy": round(sum(tp.values()) / len(gold), 4) if gold else 0.0,
        "macro_f1": round(sum(f1s) / len(f1s), 4) if f1s else 0.0,
        "per_intent": per,
        "confused": [{"gold": g, "pred": p, "count": c} for (g, p), c in confusions.most_common(10)],
    }


def predict(clf, rows: list[Example]) -> list[str]:
    return [clf.classify(r.text, r.lang, r.context).intent for r in rows]


def evaluate(clf, rows: list[Example]) -> dict[str, Any]:
    pred = predict(clf, rows)
    report = score([r.intent for r in rows], pred)
    for lang in ("zh", "en"):
        idx = [i for i, r in enumerate(rows) if r.lang == lang]
        if idx:
            report[f"accuracy_{lang}"] = round(sum(rows[i].intent == pred[i] for i in idx) / len(idx), 4)
    report["errors"] = [{"text": r.text, "lang": r.lang, "gold": r.intent, "pred": p}
                        for r, p in zip(rows, pred, strict=True) if r.intent != p][:50]
    return report


def render(report: dict[str, Any]) -> str:
    lines = [f"n={report['n']}  accuracy={report['accuracy']:.4f}  macro-F1={report['macro_f1']:.4f}"
             + "".join(f"  {k}={report[k]:.4f}" for k in ("accuracy_zh", "accuracy_en") if k in report), "",
             f"{'intent':22s} {'prec':>6s} {'recall':>6s} {'f1':>6s} {'n':>5s}"]
    for lab, m in sorted(report["per_intent"].items()):
        lines.append(f"{lab:22s} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} {m['support']:5d}")
    if report["confused"]:
        lines += ["", "most confused (gold -> predicted):"]
        lines += [f"  {c['gold']} -> {c['pred']}: {c['count']}" for c in report["confused"]]
    return "\n".join(lines)

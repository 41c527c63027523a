"""`dialwise nlu ...` commands and `dialwise bench nlu`. Heavy imports happen inside the commands."""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import typer

from agent.errors import UserError

nlu_app = typer.Typer(help="Understanding callee utterances (intents and entities, zh/en).", no_args_is_help=True)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(nlu_app, name="nlu")
    bench_app.command("nlu", help="NLU accuracy, macro-F1, must-not-miss recall, entities, latency (JSON).")(bench_nlu)


def _parse_today(today: str | None) -> dt.date | None:
    if today is None:
        return None
    try:
        return dt.date.fromisoformat(today)
    except ValueError:
        raise UserError(f"--today must be a date like 2025-03-14, got {today!r}") from None


def _load(model: Path | None):
    from nlu.classifier import load_model

    try:
        return load_model(model)
    except FileNotFoundError as exc:
        raise UserError(f"{exc}") from None
    except (ValueError, KeyError, OSError) as exc:
        raise UserError(f"cannot load NLU model {model or '(shipped)'}: {exc}; run `dialwise nlu train`") from None


def _null_entities() -> dict:
    return {"amount": None, "date": None, "time": None, "last4": None}


@nlu_app.command("classify")
def classify_cmd(
    text: str | None = typer.Argument(None, help="one utterance (omit with --jsonl)"),
    jsonl: bool = typer.Option(False, "--jsonl", help='read {"text","lang"[,"context"]} JSON lines on stdin'),
    lang: str = typer.Option("en", "--lang", help="zh or en (for a single TEXT)"),
    context: str | None = typer.Option(None, "--context", help="what the agent just asked (an EXPECTS hint)"),
    today: str | None = typer.Option(None, "--today", help="reference date YYYY-MM-DD (default: today)"),
    model: Path | None = typer.Option(None, "--model", help="model file (default: the shipped one)"),
) -> None:
    """Classify utterances: one JSON line out per input line, in order."""
    from nlu.types import EXPECTS

    ref = _parse_today(today)
    if context is not None and context not in EXPECTS:
        raise UserError(f"--context must be one of {', '.join(EXPECTS)}")
    if not jsonl and text is None:
        raise UserError("give a TEXT to classify, or --jsonl to read JSON lines on stdin")
    clf = _load(model)
    if not jsonl:
        u = clf.classify(text, lang, context, ref)
        print(json.dumps(u.to_json(), ensure_ascii=False))
        return
    out = sys.stdout
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text", ""), str):
                raise ValueError('expected an object {"text": ..., "lang": "zh"|"en"}')
            u = clf.classify(item.get("text", ""), str(item.get("lang") or "en"),
                             item.get("context") if item.get("context") in EXPECTS else context, ref)
            row = {"intent": u.intent, "confidence": round(float(u.confidence), 4), "entities": u.entities}
        except (ValueError, TypeError) as exc:
            row = {"error": f"line {n}: {exc}", "intent": "out_of_scope", "confidence": 0.0,
                   "entities": _null_entities()}
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        out.flush()


@nlu_app.command("train")
def train_cmd(
    out: Path | None = typer.Option(None, "--out", help="where to write the model (default: nlu/model/)"),
    epochs: int = typer.Option(14, "--epochs", min=1, max=200),
    seed: int = typer.Option(13, "--seed"),
    features: str = typer.Option("use+ngram", "--features", help="use+ngram (default), use, or ngram (ablation)"),
    per_intent: int = typer.Option(0, "--per-intent", min=0,
                                   help="at most N utterances per intent and language (0: all); a quick check"),
) -> None:
    """Train the intent classifier from nlu/data (torch), calibrate it and save a versioned model file."""
    from nlu.intent_model import DEFAULT_MODEL
    from nlu.train import TrainConfig, train

    try:
        if features not in ("use+ngram", "use", "ngram"):
            raise UserError("--features must be use+ngram, use or ngram")
        train(out or DEFAULT_MODEL, TrainConfig(epochs=epochs, seed=seed, features=features, per_intent=per_intent),
              log=lambda m: typer.echo(m, err=True))
    except (ValueError, FileNotFoundError) as exc:
        raise UserError(f"training failed: {exc}") from None


@nlu_app.command("eval")
def eval_cmd(
    file: Path = typer.Argument(
        ..., help="labelled JSONL {text,lang,intent[,context]} or TSV text<TAB>lang<TAB>intent"),
    model: Path | None = typer.Option(None, "--model"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Accuracy, per-intent precision/recall and the most confused pairs on a labelled file."""
    from nlu.evaluate import evaluate, load_labelled, render

    if not file.exists():
        raise UserError(f"{file} does not exist")
    try:
        rows = load_labelled(file)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    clf = _load(model)
    report = evaluate(clf, rows)
    print(json.dumps(report, ensure_ascii=False) if as_json else render(report))


def bench_nlu(
    model: Path | None = typer.Option(None, "--model"),
    fixtures: bool = typer.Option(True, "--fixtures/--no-fixtures",
                                  help="also score the 80 speech fixture transcripts"),
) -> None:
    """Print one JSON object with the NLU benchmark figures."""
    from nlu.bench import run_bench

    clf = _load(model)
    print(json.dumps(run_bench(clf, with_fixtures=fixtures), ensure_ascii=False))

"""CLI of the portfolio data side: `accounts import|export`, `scores train|evaluate`, `campaigns report`,
`bench scores`.

Heavy imports (database, scikit-learn, LightGBM, pandas) happen inside the commands.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import typer

from agent.errors import UserError

PURPOSE_HELP = "collections (collection score) or telesales (response score)"


def _group(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """The sub-app called ``name``, reusing one another area already registered (e.g. `campaigns`)."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    sub = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


def _check_purpose(purpose: str) -> str:
    if purpose not in ("collections", "telesales"):
        raise UserError(f"--purpose must be collections or telesales, not {purpose!r}")
    return purpose


def _date(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{flag} must be a date like 2025-03-31, not {value!r}") from None


def _echo_json(obj) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, default=str))


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    accounts_app = _group(app, "accounts", "The portfolio: accounts to call.")
    scores_app = _group(app, "scores", "Collection and response scores: train, evaluate.")
    campaigns_app = _group(app, "campaigns", "Campaigns: runs and reports.")
    accounts_app.command("import")(accounts_import)
    accounts_app.command("export")(accounts_export)
    scores_app.command("train")(scores_train)
    scores_app.command("evaluate")(scores_evaluate)
    campaigns_app.command("report")(campaigns_report)
    bench_app.command("scores")(bench_scores)


def accounts_import(
    file: Path = typer.Argument(..., help="CSV with the columns of docs/import.md"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="import the good rows and report the bad ones"),
    as_of: str | None = typer.Option(None, "--as-of", help="date for days past due from due_date (default today)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Import a portfolio CSV: every row validated, all-or-nothing unless --skip-bad, re-import updates."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from agent.campaign.importer import ImportRejected, import_csv
    from agent.store import init_db

    url = init_db()
    console = Console(stderr=True)
    with Progress(TextColumn("importing"), BarColumn(), TextColumn("{task.completed}/{task.total} rows"),
                  TimeRemainingColumn(), console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task("import", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            result = import_csv(file, skip_bad=skip_bad, db_url=url, as_of=_date(as_of, "--as-of"), progress=progress)
        except ImportRejected as exc:
            if as_json:
                _echo_json({"imported": False, **exc.result.to_dict()})
            else:
                for e in exc.result.errors[:50]:
                    console.print(f"[red]{e}[/]")
            raise
    if as_json:
        _echo_json({"imported": True, **result.to_dict()})
        return
    for e in result.errors[:50]:
        console.print(f"[yellow]skipped {e}[/]")
    typer.echo(f"{result.rows} rows: {result.created} created, {result.updated} updated, {result.skipped} skipped")


def accounts_export(
    file: Path | None = typer.Argument(None, help="CSV file to write (default: standard output)"),
) -> None:
    """Export every account as CSV in the import's columns; values a spreadsheet would run as a formula
    (starting with = + - @) get a leading apostrophe."""
    import sys

    from agent.campaign.exporter import export_csv
    from agent.store import init_db

    url = init_db()
    if file is None:
        n = export_csv(sys.stdout, db_url=url)
    else:
        with open(file, "w", encoding="utf-8", newline="") as out:
            n = export_csv(out, db_url=url)
    typer.echo(f"{n} accounts exported", err=True)


def _load_training(purpose: str, accounts: Path | None, history: Path | None):
    from agent.campaign.scores.store import load_from_db, read_jsonl

    if (accounts is None) != (history is None):
        raise UserError("give both --accounts and --history (plan JSONL files), or neither to read the database")
    if accounts is not None:
        accs = [a for a in read_jsonl(accounts) if a.get("purpose", purpose) == purpose]
        return accs, read_jsonl(history)
    from agent.store import init_db

    return load_from_db(purpose, init_db())


def scores_train(
    purpose: str = typer.Option("collections", "--purpose", help=PURPOSE_HELP),
    horizon: int = typer.Option(14, "--horizon", min=1, help="N: days within which payment / conversion counts"),
    accounts: Path | None = typer.Option(None, "--accounts", help="plan-format accounts JSONL instead of the DB"),
    history: Path | None = typer.Option(None, "--history", help="plan-format history JSONL instead of the DB"),
    out: Path | None = typer.Option(None, "--out", help="where to save the model (default var/models/)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Fit the collection or response score on the lender's history (priors when history is thin) and save it."""
    from agent.campaign.scores import fit_scorer
    from agent.campaign.scores.store import save_scorer

    accs, hist = _load_training(_check_purpose(purpose), accounts, history)
    if not accs:
        raise UserError(f"no {purpose} accounts to train on: import some with `dialwise accounts import`")
    scorer = fit_scorer(accs, hist, purpose, horizon_days=horizon)
    path = save_scorer(scorer, out)
    info = scorer.info.to_dict() | {"accounts": len(accs), "history_rows": len(hist), "saved_to": str(path)}
    if as_json:
        _echo_json(info)
    else:
        typer.echo(f"{purpose} score: mode={info['mode']} backend={info['backend']} rows={info['n_train']} "
                   f"positives={info['n_positive']} uplift={info['uplift']} -> {path}"
                   + (f"\n{info['reason']}" if info["reason"] else ""))


def _print_eval(res: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    models = res.get("models") or {"model": res}
    t = Table(title=f"{res.get('dataset', res.get('purpose'))}: test n={res.get('n_test')}, "
                    f"base rate {res.get('test_base_rate', res.get('base_rate'))}")
    for c in ("model", "AUC", "KS", "Brier", "ECE", "top-decile lift"):
        t.add_column(c)
    for name, m in models.items():
        lift = m["lift_by_decile"][0]["lift"] if m.get("lift_by_decile") else ""
        t.add_row(name, str(m["auc"]), str(m["ks"]), str(m["brier"]), str(m["ece"]), str(lift))
    con.print(t)
    if "islr_comparison" in res:
        c = res["islr_comparison"]
        con.print(f"Caravan, logistic regression, cut-off 0.25: ours {c['ours_glm_cutoff_0.25']} | ISLR book "
                  f"{c['published_islr']['logistic_cutoff_0.25']}; precision in top 33 by model: "
                  + ", ".join(f"{k} {v.get('precision_top_33')}" for k, v in models.items()))
    card = res.get("scorecard_table") or []
    if card:
        st = Table(title="scorecard points (higher = more likely)")
        for c in ("feature", "bin", "n", "event rate", "WOE", "points"):
            st.add_column(c)
        for r in card[:40]:
            st.add_row(r["feature"], r["bin"], str(r["n"]), str(r["event_rate"]), str(r["woe"]), str(r["points"]))
        con.print(st)


def scores_evaluate(
    purpose: str = typer.Option("collections", "--purpose", help=PURPOSE_HELP),
    public: bool = typer.Option(False, "--public", help="evaluate on the shipped public data sets instead"),
    dataset: str | None = typer.Option(None, "--dataset", help="one public set: credit_data, germancredit, caravan"),
    horizon: int = typer.Option(14, "--horizon", min=1),
    accounts: Path | None = typer.Option(None, "--accounts", help="plan-format accounts JSONL instead of the DB"),
    history: Path | None = typer.Option(None, "--history", help="plan-format history JSONL instead of the DB"),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Hold-out AUC, KS, calibration, lift by decile and a WOE scorecard points table."""
    from agent.campaign.scores.evaluate import evaluate_history, evaluate_public
    from agent.campaign.scores.public import DATASETS

    if public or dataset:
        names = [dataset] if dataset else list(DATASETS)
        results = [evaluate_public(n, seed) for n in names]
        if as_json:
            _echo_json({"public": results})
            return
        for r in results:
            _print_eval(r)
        return
    accs, hist = _load_training(_check_purpose(purpose), accounts, history)
    res = evaluate_history(accs, hist, purpose, horizon, seed)
    if as_json:
        _echo_json(res)
    else:
        _print_eval(res)


def campaigns_report(
    campaign: str | None = typer.Option(None, "--campaign", help="one campaign id (default: all calls)"),
    since: str | None = typer.Option(None, "--since", help="only dials on or after this date (YYYY-MM-DD)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    by: str = typer.Option("variant", "--by", help="funnel table grouping: campaign|variant|segment|hour"),
    price: float | None = typer.Option(None, "--price-per-minute", min=0.0,
                                          help="call price per minute (default: CALL_PRICE_PER_MINUTE)"),
    currency: str | None = typer.Option(None, "--currency", help="currency of the price (default: "
                                           "CALL_PRICE_CURRENCY)"),
) -> None:
    """Each script variant's outcome rates with 95 % Wilson intervals, and the funnel (dialled -> connected ->
    right party -> promise -> kept) per campaign, variant, segment and local hour, with the cost per kept promise."""
    from agent.campaign.funnel import GROUPINGS, funnel_report, render_funnel
    from agent.campaign.report import campaign_report, render_table
    from agent.store import init_db
    from agent.store.db import session_scope

    d = _date(since, "--since")
    if by not in GROUPINGS:
        raise UserError(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    if currency is not None and not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
        raise UserError(f"--currency must be an ISO 4217 code such as CNY or USD, not {currency!r}")
    url = init_db()
    start = datetime.combine(d, datetime.min.time()) if d else None
    with session_scope(url) as s:
        rep = campaign_report(s, campaign, start)
        funnel = funnel_report(s, campaign, rep.since and datetime.fromisoformat(rep.since), price=price,
                               currency=currency)
    if as_json:
        _echo_json({**rep.to_dict(), "funnel": funnel})
        return
    from rich.console import Console

    if not rep.variants:
        typer.echo("no dials yet" + (f" for campaign {campaign}" if campaign else ""))
        return
    Console().print(render_table(rep))
    Console().print(render_funnel(funnel, by))


def bench_scores(
    accounts: int = typer.Option(1_000_000, "--accounts", min=1, help="accounts to score"),
    train_accounts: int = typer.Option(5000, "--train-accounts", min=100),
    as_json: bool = typer.Option(True, "--json/--no-json"),
) -> None:
    """Fit on a synthetic history, then score N accounts with score_many: {"accounts", "fit_seconds", ...}."""
    import resource
    import time

    import numpy as np

    from agent.campaign.scores import fit_scorer
    from agent.campaign.scores.synth import synthetic_portfolio

    accs, hist, _ = synthetic_portfolio(train_accounts, 42, seed=0)
    t0 = time.perf_counter()
    scorer = fit_scorer(accs, hist, "collections")
    fit_s = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    n = accounts
    cols = {
        "id": np.array([f"a{i:06d}" for i in range(n)], dtype=object),
        "days_past_due": rng.integers(1, 90, n).astype(float),
        "balance": rng.lognormal(8.0, 1.0, n),
        "bucket": rng.choice(np.array(["M1", "M2", "M0"], dtype=object), n),
        "language": rng.choice(np.array(["zh", "en"], dtype=object), n),
        "jurisdiction": rng.choice(np.array(["CN", "US"], dtype=object), n),
        "product": rng.choice(np.array(["card", "loan"], dtype=object), n),
        "features.income_score": rng.normal(size=n),
    }
    t1 = time.perf_counter()
    scores = scorer.score_many(cols)
    score_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    up = scorer.uplift_many(cols)
    uplift_s = time.perf_counter() - t2
    res = {"accounts": n, "train_accounts": train_accounts, "history_rows": len(hist), "mode": scorer.mode,
           "backend": scorer.info.backend, "fit_seconds": round(fit_s, 3), "score_seconds": round(score_s, 3),
           "uplift_seconds": round(uplift_s, 3) if up is not None else None,
           "mean_score": round(float(scores.mean()), 4),
           "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    _echo_json(res)

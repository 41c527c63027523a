"""`dialwise bench turns`: the complete-answer endpointer against today's fixed silence (JSON)."""
from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    bench_app.command("turns", help="Turn-taking: v2v of complete answers, cut-ins, backchannel barge-ins, "
                                    "vs today's fixed silence in the same run (JSON).")(bench_turns)


def bench_turns(
    split: str = typer.Option("both", help="dev | test | both (tune on dev; report test)"),
    language: str = typer.Option("both", help="zh | en | both"),
    pause_ms: int = typer.Option(200, help="the short pause that starts the speculative reading"),
    details: Path | None = typer.Option(None, help="also write one JSON line per turn here"),
    limit: int | None = typer.Option(None, help="a spread-out sample of this many turns (quick look)"),
) -> None:
    from agent.bench_turns import run
    from agent.turn_taking import TurnSettings

    splits = ("dev", "test") if split == "both" else (split,)
    langs = ("zh", "en") if language == "both" else (language,)
    out = run(splits=splits, langs=langs, settings=TurnSettings(pause_ms=pause_ms), details=details, limit=limit)
    print(json.dumps(out, ensure_ascii=False))

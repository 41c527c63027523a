"""`dialwise scripts list|validate|show`, `dialwise converse`, `dialwise bench dialogs`."""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import typer

from agent.errors import UserError


def _today(value: str | None) -> date:
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"--today {value!r} is not a date; use YYYY-MM-DD") from None


def _load(script_id: str):
    from dialogs.library import ScriptNotFound, load_script
    from dialogs.script import ScriptError

    try:
        return load_script(script_id)
    except ScriptNotFound as exc:
        raise UserError(str(exc)) from None
    except ScriptError as exc:
        first = exc.problems[0] if exc.problems else "invalid"
        raise UserError(f"script {script_id} is invalid ({len(exc.problems)} problems; first: {first}); "
                        f"run `dialwise scripts validate`") from None


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    scripts_app = typer.Typer(help="The dialog scripts library (scripts_library/).", no_args_is_help=True)
    app.add_typer(scripts_app, name="scripts")

    @scripts_app.command("list")
    def scripts_list(as_json: bool = typer.Option(False, "--json", help="print a JSON array")) -> None:
        """List every script that validates."""
        from dialogs.library import list_scripts

        infos = list_scripts()
        if as_json:
            print(json.dumps([i.to_json() for i in infos], ensure_ascii=False))
            return
        for i in infos:
            print(f"{i.id:38s} {i.purpose:12s} {i.bucket or i.product or '':15s} {i.language} {i.variant}")

    @scripts_app.command("validate")
    def scripts_validate(
        root: Path | None = typer.Argument(None, help="a scripts library folder (default: scripts_library/)"),
    ) -> None:
        """Check every script: schema, intents, reachability, dead ends, slots, templates, translations,
        disclosures and right-party verification. Prints file:line for each problem; exit 1 if any."""
        from dialogs.library import LIBRARY_DIR, validate_library

        base = root or LIBRARY_DIR
        if not base.is_dir():
            raise UserError(f"{base} is not a folder of scripts (expected <purpose>/<flow>.yaml files)")
        scripts, problems = validate_library(root)
        seen: set[str] = set()
        for p in problems:
            text = str(p)
            if text not in seen:
                seen.add(text)
                print(text)
        ok = len({s.id for s in scripts} - {p.script_id for p in problems})
        print(f"{ok} scripts valid, {len(seen)} problems", file=sys.stderr)
        if problems:
            raise typer.Exit(1)

    @scripts_app.command("show")
    def scripts_show(script_id: str) -> None:
        """Print one script's metadata, nodes and lines as JSON."""
        script = _load(script_id)
        print(json.dumps(script.model_dump(mode="json", exclude={"locs"}), ensure_ascii=False, indent=1))

    @scripts_app.command("lines")
    def scripts_lines(as_json: bool = typer.Option(False, "--json", help="print a JSON array")) -> None:
        """Every fixed line (line_id, text, lang) of every valid script, for pre-synthesis."""
        from dialogs.library import all_fixed_lines

        rows = all_fixed_lines()
        if as_json:
            print(json.dumps([{"line_id": i, "text": t, "lang": lang} for i, t, lang in rows], ensure_ascii=False))
            return
        for line_id, text, lang in rows:
            print(f"{line_id}\t{lang}\t{text}")

    @bench_app.command("dialogs")
    def bench_dialogs(
        calls: int = typer.Option(400, help="random simulated callers for the speed figure"),
        nlu: bool = typer.Option(True, "--nlu/--no-nlu", help="also run the scenarios through the real NLU"),
    ) -> None:
        """Policy step latency over random callers, and scenario pass rates with labels and through the real NLU."""
        from dialogs.bench import policy_speed, scenario_rates

        print(json.dumps({"policy": policy_speed(calls), "scenarios": scenario_rates(nlu)}, ensure_ascii=False))

    @app.command("converse")
    def converse(
        script: str = typer.Option(..., "--script", help="script id, e.g. collections_m1_zh_a"),
        account: Path | None = typer.Option(None, "--account", help="account JSON file (default: sample account)"),
        today: str | None = typer.Option(None, "--today", help="YYYY-MM-DD (default: the system date)"),
        jsonl: bool = typer.Option(False, "--jsonl", help="JSON lines on stdin/stdout (the only mode)"),
    ) -> None:
        """Hold one text conversation with a script through the real NLU and policy (JSON lines)."""
        from dialogs.converse import run_jsonl
        from dialogs.library import account_from_json, sample_account

        day = _today(today)
        spec = _load(script)
        if account is not None:
            try:
                data = json.loads(account.read_text(encoding="utf-8"))
                acc = account_from_json(data)
            except FileNotFoundError:
                raise UserError(f"account file {account} not found") from None
            except (ValueError, AttributeError) as exc:
                raise UserError(f"account file {account}: {exc}") from None
        else:
            acc = sample_account(spec.language, day)
        try:
            from dialogs.converse import real_classifier

            classify = real_classifier()
        except ImportError:
            raise UserError("nlu.classify is not available; build or install the NLU first") from None
        def understand(text: str, lang: str, context: str | None = None, today: date | None = None):
            try:
                return classify(text, lang, context=context, today=today)
            except Exception as exc:  # the NLU failing must not show a traceback
                raise UserError(f"nlu.classify failed on {text!r}: {type(exc).__name__}: {exc}") from None

        run_jsonl(spec, acc, day, sys.stdin, sys.stdout, understand)

"""Top-level commands: doctor, db, calls, demo, bench call."""
from __future__ import annotations

import json

import typer

from agent.errors import UserError


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command("doctor",
                help="List what is present or missing (models, voices, database) with the fix for each.")(doctor)
    db_app = typer.Typer(help="The database.", no_args_is_help=True)
    db_app.command("upgrade", help="Create or migrate the database schema (idempotent).")(db_upgrade)
    app.add_typer(db_app, name="db")
    calls_app = typer.Typer(help="Calls and their transcripts.", no_args_is_help=True)
    calls_app.command("show", help="Print one call's transcript with timings and intents.")(calls_show)
    calls_app.command("list", help="List recent calls.")(calls_list)
    app.add_typer(calls_app, name="calls")
    from agent.campaign.cli_data import _group
    from agent.campaign_run import campaigns_run
    from agent.demo import bench_call, demo

    campaigns_app = _group(app, "campaigns", "Campaigns: create, start, pause, run and report.")
    campaigns_app.command("run")(campaigns_run)
    from agent.campaign_cli import register as register_campaign_controls

    register_campaign_controls(campaigns_app)

    app.command("demo", help="Seed a sample portfolio and run it as an offline campaign (loopback, real models).")(demo)
    bench_app.command("call", help="Voice-to-voice latency over simulated calls (JSON).")(bench_call)


def doctor(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    from rich.console import Console
    from rich.table import Table

    checks = collect_checks()
    if as_json:
        print(json.dumps([c for c in checks], ensure_ascii=False))
    else:
        table = Table(title="dialwise doctor")
        for col in ("check", "status", "detail", "fix"):
            table.add_column(col)
        for c in checks:
            table.add_row(c["name"], "[green]ok[/]" if c["ok"] else "[red]missing[/]", c["detail"], c["fix"] or "")
        Console().print(table)
    if not all(c["ok"] for c in checks):
        raise typer.Exit(1)


def collect_checks() -> list[dict]:
    from agent.config import get_settings
    from agent.speech_options import asr_options

    settings = get_settings()
    checks: list[dict] = []
    try:
        from speech.doctor import doctor_checks

        for name, ok, detail, fix in doctor_checks(asr_options(settings), settings.recorded_prompts_dir):
            checks.append({"name": name, "ok": bool(ok), "detail": str(detail), "fix": fix})
    except ImportError as exc:
        checks.append({"name": "speech", "ok": False, "detail": str(exc), "fix": "pip install -e ."})
    try:
        import nlu

        nlu.load_model()
        checks.append({"name": "nlu model", "ok": True, "detail": "intent classifier loads", "fix": None})
    except Exception as exc:  # report, don't crash
        checks.append({"name": "nlu model", "ok": False, "detail": str(exc), "fix": "dialwise nlu train"})
    url = settings.resolved_database_url()
    try:
        from sqlalchemy import text

        from agent.store import get_engine

        with get_engine(url).connect() as conn:
            conn.execute(text("select 1"))
        checks.append({"name": "database", "ok": True, "detail": _mask_url(url), "fix": None})
    except Exception as exc:
        checks.append({"name": "database", "ok": False, "detail": f"{_mask_url(url)}: {exc}".splitlines()[0],
                       "fix": "set DATABASE_URL to a reachable database, then dialwise db upgrade"})
    return checks


def _mask_url(db_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(db_url).render_as_string(hide_password=True)


def db_upgrade() -> None:
    from agent.store import init_db

    url = init_db()
    print(f"database ready: {_mask_url(url)}")


def calls_show(call_id: str = typer.Argument(..., help="call id (a unique prefix is enough)"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import select

    from agent.store import init_db, session_scope
    from agent.store.models import Call

    init_db()
    with session_scope() as s:
        matches = list(s.scalars(select(Call).where(Call.id.startswith(call_id)).limit(2)))
        if not matches:
            raise UserError(f"no call with id {call_id!r}; see `dialwise calls list`")
        if len(matches) > 1:
            raise UserError(f"{call_id!r} matches several calls; give more of the id")
        call = matches[0]
        turns = [
            {"seq": t.seq, "speaker": t.speaker, "start_ms": t.start_ms, "end_ms": t.end_ms, "text": t.text,
             "node": t.node, "intent": t.intent, "confidence": t.confidence, "entities": t.entities,
             "interrupted": t.interrupted, "latency": t.latency}
            for t in call.turns
        ]
        head = {"id": call.id, "script_id": call.script_id, "language": call.language, "status": call.status,
                "outcome": call.outcome, "end_reason": call.end_reason, "slots": call.slots,
                "recording": call.recording_path, "error": call.error}
    if as_json:
        print(json.dumps({**head, "turns": turns}, ensure_ascii=False, default=str))
        return
    console = Console()
    console.print(f"[bold]call {head['id']}[/]  script {head['script_id']}  outcome [bold]{head['outcome']}[/]"
                  f"  ({head['end_reason']})")
    if head["slots"]:
        console.print(f"slots: {json.dumps(head['slots'], ensure_ascii=False)}")
    if head["error"]:
        console.print(f"[red]error: {head['error']}[/]")
    table = Table(show_lines=False)
    for col in ("#", "at", "who", "text", "intent", "conf", "entities", "v2v ms"):
        table.add_column(col)
    for t in turns:
        ents = {k: v for k, v in (t["entities"] or {}).items() if v not in (None, "", [])}
        table.add_row(str(t["seq"]), f"{t['start_ms'] / 1000:6.2f}s", t["speaker"],
                      t["text"] + (" [dim](interrupted)[/]" if t["interrupted"] else ""),
                      t["intent"] or "", f"{t['confidence']:.2f}" if t["confidence"] is not None else "",
                      json.dumps(ents, ensure_ascii=False) if ents else "",
                      str((t["latency"] or {}).get("voice_to_voice_ms", "")))
    console.print(table)
    if head["recording"]:
        console.print(f"recording: {head['recording']}")


def calls_list(limit: int = typer.Option(20, help="how many")) -> None:
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import select

    from agent.store import init_db, session_scope
    from agent.store.models import Call

    init_db()
    table = Table()
    for col in ("id", "started", "script", "outcome", "end"):
        table.add_column(col)
    with session_scope() as s:
        for c in s.scalars(select(Call).order_by(Call.started_at.desc()).limit(limit)):
            table.add_row(c.id, str(c.started_at or "")[:19], c.script_id, c.outcome or c.status, c.end_reason or "")
    Console().print(table)

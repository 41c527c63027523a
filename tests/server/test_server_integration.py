"""The API over the other areas' real code: script library, CSV import, placing a call; the CLI."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent.server.app import create_app
from agent.server.auth import create_key
from agent.store.db import session_scope
from agent.store.models import Call
from tests.dial_support import zone_at_local_hour

ROOT = Path(__file__).resolve().parents[2]
DIALWISE = str(Path(sys.executable).with_name("dialwise"))


@pytest.fixture
def env(tmp_path):
    url = f"sqlite:///{tmp_path / 'int.sqlite3'}"
    app = create_app(url)
    with session_scope(url) as s:
        key, _ = create_key(s, "admin")
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client, url


def test_scripts_list_and_validate(env):
    client, _ = env
    items = client.get("/api/scripts").json()["items"]
    langs = {i["language"] for i in items}
    assert {"zh", "en"} <= langs and all("id" in i for i in items)
    good = (ROOT / "scripts_library" / "collections" / "m1.yaml").read_text(encoding="utf-8")
    r = client.post("/api/scripts/validate", json={"yaml": good}).json()
    assert r["valid"] is True, r["errors"]
    assert any(s.endswith("_zh_a") for s in r["scripts"]) and any("_en_" in s for s in r["scripts"])
    broken = client.post("/api/scripts/validate", json={"yaml": "flow: [1, 2"}).json()
    assert broken["valid"] is False and "YAML" in broken["errors"][0]
    nometa = client.post("/api/scripts/validate", json={"yaml": "nodes: {}"}).json()
    assert nometa["valid"] is False and "flow" in nometa["errors"][0]


CSV = """external_id,name,phone,language,timezone,balance,currency,days_past_due,product
A-1,王芳,13812345678,zh,Asia/Shanghai,8800,CNY,21,cash_loan
A-2,Jane Doe,+1 415 555 0123,en,America/New_York,1200,USD,40,credit_card
"""


def test_csv_import_all_or_nothing_and_skip_bad(env):
    client, _ = env
    h = {"Content-Type": "text/csv"}
    r = client.post("/api/accounts/import", content=CSV.encode(), headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2
    names = {a["name"] for a in client.get("/api/accounts").json()["items"]}
    assert names == {"王芳", "Jane Doe"}
    bad = CSV + "A-3,Bob,not-a-phone,en,America/New_York,10,USD,1,credit_card\n"
    r = client.post("/api/accounts/import", content=bad.encode(), headers=h)
    assert r.status_code == 422 and r.json()["result"]["errors"][0]["line"] == 4
    r = client.post("/api/accounts/import", params={"skip_bad": True}, content=bad.encode(), headers=h)
    assert r.status_code == 200 and r.json()["updated"] == 2 and r.json()["skipped"] == 1
    assert client.post("/api/accounts/import", json={"csv": CSV}).status_code == 415


def test_create_call_for_an_account(env):
    client, url = env
    acc = client.post("/api/accounts", json={
        "name": "李雷", "language": "zh", "balance": 3000, "currency": "CNY", "due_date": "2026-11-01",
        "days_past_due": 20, "product": "cash_loan", "id_last4": "0420", "phone": "+8613900001111",
        "timezone": zone_at_local_hour(11)}).json()["id"]  # inside the calling window whenever CI runs
    script = next(i["id"] for i in client.get("/api/scripts").json()["items"]
                  if i["language"] == "zh" and i["purpose"] == "collections")
    r = client.post("/api/calls", json={"account_id": acc, "script_id": script, "dry_run": True})
    assert r.status_code == 201, r.text
    with session_scope(url) as s:
        call = s.get(Call, r.json()["call_id"])
        assert call.account_id == acc and call.script_id == script and call.language == "zh"
    r = client.post("/api/calls", json={"account_id": acc, "script_id": "no_such_script"})
    assert r.status_code == 422 and "no_such_script" in r.json()["detail"]
    assert client.post("/api/calls", json={"account_id": "nope", "script_id": script}).status_code == 404


def test_cli_keys_create_prints_the_key_last(tmp_path):
    env = dict(os.environ, VAR_DIR=str(tmp_path), DATABASE_URL="")
    out = subprocess.run([DIALWISE, "keys", "create", "--scope", "crm", "--label", "crm-sync"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("dw_") and " " not in key
    url = f"sqlite:///{(tmp_path / 'dialwise.sqlite3').resolve()}"
    with TestClient(create_app(url)) as client:
        assert client.get("/api/me", headers={"Authorization": f"Bearer {key}"}).json()["scope"] == "crm"
    bad = subprocess.run([DIALWISE, "keys", "create", "--scope", "root"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown scope" in bad.stderr and "Traceback" not in bad.stderr

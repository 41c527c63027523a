"""Every way to start a call goes through the one gated dial path: the campaign runner, the API
(`POST /api/calls`) and the CLI (`dialwise call`, `dialwise twilio call`). An opted-out account and an
account outside its calling window are never dialled, and each refusal is recorded with its rule."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from agent.dialing.place import close_attempt, prepare_attempt
from agent.runner import run_attempts
from agent.store import session_scope
from agent.store.models import Attempt, Call, Campaign, ComplianceBlock
from tests.dial_support import RecordingDialer, add_account

pytestmark = pytest.mark.db
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = "collections_m1_en_a"


def _blocks(db_url: str) -> list[tuple[str, str]]:
    with session_scope(db_url) as s:
        return [(b.account_id, b.rule) for b in s.scalars(select(ComplianceBlock))]


def _attempt(db_url: str, account_id: str, campaign_id: str | None = None) -> str:
    with session_scope(db_url) as s:
        from agent.store.models import Account

        acc = s.get(Account, account_id)
        att = Attempt(campaign_id=campaign_id, account_id=acc.id, script_id=SCRIPT, phone=acc.phone,
                      not_before=datetime.now(UTC))
        s.add(att)
        s.flush()
        return att.id


async def test_the_campaign_runner_dials_only_what_the_gate_allows(db_url):
    ok = add_account(db_url, phone="+14155550101")
    opted = add_account(db_url, phone="+14155550102", opted_out=True)
    night = add_account(db_url, phone="+14155550103", hour=3)
    with session_scope(db_url) as s:
        camp = Campaign(name="c", status="running", network="loopback")
        s.add(camp)
        s.flush()
        cid = camp.id
    for acc in (ok, opted, night):
        _attempt(db_url, acc, cid)
    dialer = RecordingDialer()
    reports = await run_attempts(campaign_id=cid, deps=None, dialer=dialer, db_url=db_url)  # type: ignore[arg-type]
    assert [t.account_id for t in dialer.dials] == [ok]
    assert sorted((r.account_id, r.status, r.rule) for r in reports) == sorted(
        [(ok, "done", None), (opted, "blocked", "opt_out"), (night, "blocked", "us_calling_hours")])
    assert sorted(_blocks(db_url)) == sorted([(opted, "opt_out"), (night, "us_calling_hours")])
    with session_scope(db_url) as s:
        calls = s.scalars(select(Call)).all()
        assert [c.account_id for c in calls] == [ok]  # a blocked dial leaves no call row
        done = s.scalar(select(Attempt).where(Attempt.account_id == ok))
        assert (done.status, done.result, done.network) == ("done", "answered", "loopback")
        assert done.dialed_at is not None and done.finished_at is not None


def test_a_dial_counts_in_the_gate_from_the_moment_it_is_placed(db_url):
    """The attempt is marked dialled inside the gate's transaction: a process that dies mid-call still
    leaves a dial the gate counts (CN: at most one dial... here US: 7 in 7 days is the cap)."""
    acc = add_account(db_url, phone="+14155550104")
    for _ in range(7):
        prep = prepare_attempt(_attempt(db_url, acc), "loopback", db_url=db_url)
        assert not hasattr(prep, "rule"), prep  # allowed; never closed, as if the process died
    eighth = prepare_attempt(_attempt(db_url, acc), "loopback", db_url=db_url)
    assert getattr(eighth, "rule", None) == "us_7_in_7"


def test_close_attempt_is_idempotent_and_plans_one_retry(db_url):
    acc = add_account(db_url, phone="+14155550105")
    with session_scope(db_url) as s:
        camp = Campaign(name="c", status="running", max_attempts=3)
        s.add(camp)
        s.flush()
        cid = camp.id
    prep = prepare_attempt(_attempt(db_url, acc, cid), "twilio", db_url=db_url)
    assert close_attempt(prep.attempt_id, "busy", detail="486 Busy Here", db_url=db_url) is True
    assert close_attempt(prep.attempt_id, "no_answer", db_url=db_url) is False  # a late callback changes nothing
    with session_scope(db_url) as s:
        rows = s.scalars(select(Attempt).where(Attempt.account_id == acc).order_by(Attempt.attempt_no)).all()
        assert [(a.attempt_no, a.status, a.result) for a in rows] == [(1, "done", "busy"), (2, "planned", None)]
        first_nb = rows[0].not_before.replace(tzinfo=UTC) if rows[0].not_before.tzinfo is None \
            else rows[0].not_before
        second_nb = rows[1].not_before if rows[1].not_before.tzinfo else rows[1].not_before.replace(tzinfo=UTC)
        assert second_nb > first_nb
        call = s.scalar(select(Call).where(Call.attempt_id == prep.attempt_id))
        assert (call.status, call.outcome, call.end_reason) == ("ended", "no_answer", "network:busy")


@pytest.fixture
def api(db_url, settings_env):
    from agent.server.app import create_app
    from agent.server.auth import create_key

    app = create_app(db_url)
    with session_scope(db_url) as s:
        key, _ = create_key(s, "admin")
    dialer = RecordingDialer(hold_s=0.05)
    with TestClient(app) as client:
        app.state.worker.runtime.lines._dialers["loopback"] = dialer  # the network; the dial path is real
        yield client, {"Authorization": f"Bearer {key}"}, dialer


def test_the_api_dials_through_the_gate(api, db_url):
    client, auth, dialer = api
    ok = add_account(db_url, phone="+14155550111")
    opted = add_account(db_url, phone="+14155550112", opted_out=True)
    night = add_account(db_url, phone="+14155550113", hour=2)
    r = client.post("/api/calls", json={"account_id": ok, "script_id": SCRIPT, "transport": "loopback"},
                    headers=auth)
    assert r.status_code == 201 and r.json()["status"] == "dialing", r.text
    call_id = r.json()["call_id"]
    for acc, rule in ((opted, "opt_out"), (night, "us_calling_hours")):
        r = client.post("/api/calls", json={"account_id": acc, "script_id": SCRIPT}, headers=auth)
        assert r.status_code == 409, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["rule"] == rule
    deadline = time.time() + 5
    while time.time() < deadline and not dialer.dials:
        time.sleep(0.05)
    assert [t.account_id for t in dialer.dials] == [ok] and dialer.dials[0].call_id == call_id
    assert sorted(_blocks(db_url)) == sorted([(opted, "opt_out"), (night, "us_calling_hours")])
    calls = client.get("/api/calls", params={"account_id": ok}, headers=auth).json()
    assert [c["id"] for c in calls["items"]] == [call_id]
    assert client.get("/api/calls", params={"account_id": opted}, headers=auth).json()["total"] == 0


def test_an_api_dry_run_answers_the_twiml_and_dials_nothing(api, db_url):
    client, auth, dialer = api
    ok = add_account(db_url, phone="+14155550121")
    night = add_account(db_url, phone="+14155550122", hour=4)
    r = client.post("/api/calls", json={"account_id": ok, "script_id": SCRIPT, "transport": "twilio",
                                        "dry_run": True}, headers=auth)
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"call_id", "status", "twiml"} and body["status"] == "dry_run"
    assert "<Connect><Stream" in body["twiml"] and body["call_id"] in body["twiml"]
    r = client.post("/api/calls", json={"account_id": night, "script_id": SCRIPT, "transport": "twilio",
                                        "dry_run": True}, headers=auth)
    assert r.status_code == 409 and r.json()["rule"] == "us_calling_hours"
    assert dialer.dials == [] and _blocks(db_url) == []  # a dry run records no dial and no block
    bad = client.post("/api/calls", json={"account_id": "nope", "script_id": SCRIPT}, headers=auth)
    assert bad.status_code == 404


def _cli(args: list[str], db_url: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url, "VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-m", "agent", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


@pytest.mark.parametrize("command", [["call", "--network", "twilio"], ["twilio", "call"]])
def test_the_cli_refuses_what_the_gate_refuses(command, db_url, tmp_path):
    opted = add_account(db_url, phone="+14155550131", opted_out=True)
    night = add_account(db_url, phone="+14155550132", hour=1)
    for acc, rule in ((opted, "opt_out"), (night, "us_calling_hours")):
        out = _cli([*command, acc, SCRIPT], db_url, tmp_path)
        assert out.returncode == 3, out.stderr
        assert json.loads(out.stdout) == {"status": "blocked", "rule": rule, "reason": json.loads(out.stdout)["reason"]}
        assert "Traceback" not in out.stderr
    with session_scope(db_url) as s:
        assert s.scalars(select(Call)).all() == []  # nothing was dialled, nothing half-made
        assert s.scalar(select(Attempt).where(Attempt.status == "dialing")) is None
    assert sorted(_blocks(db_url)) == sorted([(opted, "opt_out"), (night, "us_calling_hours")])
    ok = add_account(db_url, phone="+14155550133")
    dry = _cli([*command, ok, SCRIPT, "--dry-run"], db_url, tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "<Stream" in json.loads(dry.stdout)["twiml"]

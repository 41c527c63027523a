"""What each scope may read (docs/security.md): crm sees names, phones and ID digits masked and gets no
recordings or exports; supervisors read everything, webhook subscriptions included."""
from __future__ import annotations

import csv
import io

import pytest

from tests.security.conftest import assert_problem, auth
from tests.server_helpers import seed_call

pytestmark = pytest.mark.db

ACCOUNT = {"name": "Jane Doe", "language": "en", "balance": 1234.5, "currency": "USD", "id_last4": "8807",
           "phone": "(415) 555-0123", "timezone": "America/New_York"}


@pytest.fixture
def seeded(env):
    c, keys = env["client"], env["keys"]
    acc_id = c.post("/api/accounts", json=ACCOUNT, headers=auth(keys["admin"])).json()["id"]
    call_id = seed_call(env["url"], env["tmp"], language="en")
    return env, acc_id, call_id


def test_crm_reads_accounts_masked(seeded):
    env, acc_id, _ = seeded
    c, keys = env["client"], env["keys"]
    for r in (c.get(f"/api/accounts/{acc_id}", headers=auth(keys["crm"])),
              c.get("/api/accounts", headers=auth(keys["crm"]))):
        assert r.status_code == 200
        assert "Jane Doe" not in r.text and "4155550123" not in r.text and "8807" not in r.text
    one = c.get(f"/api/accounts/{acc_id}", headers=auth(keys["crm"])).json()
    assert one["name"] == "J***" and one["phone"].endswith("23") and one["id_last4"] == "****"
    assert one["balance"] == 1234.5  # what a CRM needs stays readable


@pytest.mark.parametrize("scope", ["admin", "supervisor"])
def test_admin_and_supervisor_read_personal_data(seeded, scope):
    env, acc_id, call_id = seeded
    c, key = env["client"], env["keys"][scope]
    one = c.get(f"/api/accounts/{acc_id}", headers=auth(key)).json()
    assert one["name"] == "Jane Doe" and one["phone"] == "+14155550123" and one["id_last4"] == "8807"
    assert c.get(f"/api/calls/{call_id}", headers=auth(key)).json()["account_name"] == "Jane Doe"
    assert c.get(f"/api/calls/{call_id}/recording", headers=auth(key)).status_code == 200
    assert c.get("/api/webhooks/subscriptions", headers=auth(key)).status_code == 200


def test_crm_gets_no_recording_export_or_search_by_name(seeded):
    env, _, call_id = seeded
    c, key = env["client"], env["keys"]["crm"]
    assert c.get(f"/api/calls/{call_id}", headers=auth(key)).json()["account_name"] == "J***"
    for path in (f"/api/calls/{call_id}/recording", f"/api/calls/{call_id}/waveform", "/api/accounts/export",
                 "/api/accounts?q=Jane"):
        assert_problem(c.get(path, headers=auth(key)), 403)


def test_export_is_csv_for_keys_with_personal_access(seeded):
    env, _, _ = seeded
    r = env["client"].get("/api/accounts/export", headers=auth(env["keys"]["supervisor"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert any(row["name"] == "Jane Doe" for row in rows)


def test_one_scope_cannot_reach_another_keys_or_change_what_it_may_not(seeded):
    env, acc_id, _ = seeded
    c, keys = env["client"], env["keys"]
    assert_problem(c.post("/api/accounts", json=ACCOUNT, headers=auth(keys["crm"])), 403)
    assert_problem(c.post("/api/webhooks/subscriptions", json={"url": "https://93.184.215.14/h",
                                                               "event_types": ["*"]},
                          headers=auth(keys["supervisor"])), 403)
    listed = c.get("/api/webhooks/subscriptions", headers=auth(keys["crm"])).json()
    assert all(item["secret"] is None for item in listed["items"])

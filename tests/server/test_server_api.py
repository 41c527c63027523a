"""The REST API: auth and scopes, accounts, campaigns, calls, recordings, problems, limits, metrics."""
from __future__ import annotations

import logging
from datetime import UTC

import pytest
from fastapi.testclient import TestClient

from agent.server.app import create_app
from agent.server.auth import create_key
from agent.store.db import session_scope
from agent.store.models import ApiKey, Call
from tests.server_helpers import add_attempt, backends, drop_schema, make_database_url, seed_call, seed_campaign

# storage-facing: CI runs these again on PostgreSQL (tools/test.sh)
pytestmark = pytest.mark.db

@pytest.fixture(params=backends())
def env(request, tmp_path):
    url = make_database_url(tmp_path, request.param)
    app = create_app(url)
    keys = {}
    with session_scope(url) as s:
        for scope in ("admin", "supervisor", "crm"):
            keys[scope], _ = create_key(s, scope)
    with TestClient(app) as client:
        yield {"url": url, "client": client, "keys": keys, "tmp": tmp_path}
    drop_schema(url)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


ACCOUNT = {"name": "Jane Doe", "language": "en", "balance": 1234.5, "currency": "USD",
           "due_date": "2026-10-01", "days_past_due": 52, "product": "credit_card", "id_last4": "1234",
           "phone": "(415) 555-0123", "timezone": "America/New_York"}
ACCOUNT_ZH = {"name": "王芳", "language": "zh", "balance": 8800, "currency": "CNY",
              "due_date": "2026-11-01", "days_past_due": 21, "product": "cash_loan", "id_last4": "5678",
              "phone": "13812345678", "timezone": "Asia/Shanghai"}


def test_keys_are_stored_hashed_and_required(env):
    c, keys = env["client"], env["keys"]
    r = c.get("/api/accounts")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Bearer" in r.json()["detail"]
    assert c.get("/api/accounts", headers=auth("dw_nope_nope")).status_code == 401
    assert c.get("/api/accounts", headers={"Authorization": "Basic abc"}).status_code == 401
    with session_scope(env["url"]) as s:
        stored = [k.key_hash for k in s.query(ApiKey).all()]
    assert all(k not in stored for k in keys.values())
    assert c.get("/api/accounts", headers=auth(keys["supervisor"])).status_code == 200


def test_scopes_limit_what_a_key_can_do(env):
    c, keys = env["client"], env["keys"]
    assert c.post("/api/accounts", json=ACCOUNT, headers=auth(keys["crm"])).status_code == 403
    assert c.post("/api/accounts", json=ACCOUNT, headers=auth(keys["supervisor"])).status_code == 201
    sub = {"url": "https://93.184.215.14/hook", "event_types": ["call.completed"]}  # a public address
    assert c.post("/api/webhooks/subscriptions", json=sub, headers=auth(keys["supervisor"])).status_code == 403
    assert c.post("/api/webhooks/subscriptions", json=sub, headers=auth(keys["crm"])).status_code == 201


@pytest.mark.parametrize("body", [ACCOUNT, ACCOUNT_ZH])
def test_create_and_get_account_in_both_languages(env, body):
    c, key = env["client"], env["keys"]["admin"]
    r = c.post("/api/accounts", json=body, headers=auth(key))
    assert r.status_code == 201, r.text
    acc_id = r.json()["id"]
    got = c.get(f"/api/accounts/{acc_id}", headers=auth(key)).json()
    assert got["name"] == body["name"] and got["language"] == body["language"]
    assert got["phone"] in ("+14155550123", "+8613812345678")  # normalised to E.164
    assert got["jurisdiction"] == ("US" if body["language"] == "en" else "CN")
    listed = c.get("/api/accounts", params={"language": body["language"]}, headers=auth(key)).json()
    assert [a["id"] for a in listed["items"]] == [acc_id]


def test_validation_messages_name_the_field_and_fix(env):
    c, key = env["client"], env["keys"]["admin"]
    bad = dict(ACCOUNT, language="fr", timezone="Mars/Olympus")
    del bad["name"]
    r = c.post("/api/accounts", json=bad, headers=auth(key))
    assert r.status_code == 422
    body = r.json()
    fields = {e["field"] for e in body["errors"]}
    assert {"name", "language", "timezone"} <= fields
    assert "'name' is required" in body["detail"]
    assert "IANA" in r.text
    r = c.post("/api/accounts", json=dict(ACCOUNT, phone="123456"), headers=auth(key))
    assert r.status_code == 422 and "E.164" in r.json()["detail"]
    r = c.get("/api/accounts/nope", headers=auth(key))
    assert r.status_code == 404 and r.json()["title"] == "Not found"


def test_oversized_and_wrong_content_type_are_refused(env):
    c, key = env["client"], env["keys"]["admin"]
    huge = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = c.post("/api/accounts", content=huge, headers={**auth(key), "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["status"] == 413
    r = c.post("/api/accounts", content=b"name=x", headers={**auth(key),
                                                          "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    r = c.post("/api/accounts", content=b"{not json", headers={**auth(key), "Content-Type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]


def test_pagination(env):
    c, key = env["client"], env["keys"]["admin"]
    for i in range(5):
        c.post("/api/accounts", json=dict(ACCOUNT, name=f"A{i}"), headers=auth(key))
    p1 = c.get("/api/accounts", params={"limit": 2}, headers=auth(key)).json()
    assert p1["total"] == 5 and len(p1["items"]) == 2 and p1["next_offset"] == 2
    p3 = c.get("/api/accounts", params={"limit": 2, "offset": 4}, headers=auth(key)).json()
    assert len(p3["items"]) == 1 and p3["next_offset"] is None
    seen = {a["name"] for a in p1["items"]} | {a["name"] for a in p3["items"]}
    assert len(seen) == 3
    assert c.get("/api/accounts", params={"limit": 0}, headers=auth(key)).status_code == 422


def test_call_list_filters_and_transcript_search(env):
    c, key, url, tmp = env["client"], env["keys"]["supervisor"], env["url"], env["tmp"]
    camp = seed_campaign(url)
    en = seed_call(url, tmp, language="en", outcome="ptp", campaign_id=camp)
    zh = seed_call(url, tmp, language="zh", outcome="refused", script_id="collections_m2")

    def ids(**p):
        return {x["id"] for x in c.get("/api/calls", params=p, headers=auth(key)).json()["items"]}

    assert ids() == {en, zh}
    assert ids(language="zh") == {zh}
    assert ids(outcome="ptp") == {en}
    assert ids(campaign_id=camp) == {en}
    assert ids(script_id="collections_m2") == {zh}
    assert ids(q="请问") == {zh}  # Chinese transcript text
    assert ids(q="CARD") == {en}  # case-insensitive English
    assert ids(q="100%") == set()  # LIKE wildcards are literal
    from datetime import date, timedelta

    assert ids(date_from=str(date.today() + timedelta(days=1))) == set()
    assert ids(date_to=str(date.today())) == {en, zh}


def test_call_detail_has_turns_outcome_and_promise(env):
    c, key = env["client"], env["keys"]["supervisor"]
    call_id = seed_call(env["url"], env["tmp"], language="zh")
    d = c.get(f"/api/calls/{call_id}", headers=auth(key)).json()
    assert [t["seq"] for t in d["turns"]] == [0, 1, 2]
    assert d["turns"][1]["intent"] and d["turns"][1]["confidence"] == pytest.approx(0.91)
    assert d["outcome"] == "ptp" and d["outcome_detail"]["promise_amount"] == 500.0
    assert d["has_recording"] is True


def test_recording_supports_range_requests(env):
    c, key = env["client"], env["keys"]["supervisor"]
    call_id = seed_call(env["url"], env["tmp"])
    full = c.get(f"/api/calls/{call_id}/recording", headers=auth(key))
    assert full.status_code == 200 and full.headers["content-type"] == "audio/wav"
    assert full.content[:4] == b"RIFF"
    assert full.headers.get("accept-ranges") == "bytes"
    part = c.get(f"/api/calls/{call_id}/recording", headers={**auth(key), "Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == full.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(full.content)}"
    bad = c.get(f"/api/calls/{call_id}/recording", headers={**auth(key), "Range": "bytes=99999999-"})
    assert bad.status_code == 416
    wf = c.get(f"/api/calls/{call_id}/waveform", params={"points": 50}, headers=auth(key)).json()
    assert set(wf["channels"]) == {"callee", "agent"} and len(wf["channels"]["agent"]) == 50
    assert max(wf["channels"]["agent"][:5]) > 0.01  # the agent speaks first
    assert max(wf["channels"]["callee"][:5]) == 0.0


def test_campaign_lifecycle_and_stats(env):
    c, key, url, tmp = env["client"], env["keys"]["supervisor"], env["url"], env["tmp"]
    acc = c.post("/api/accounts", json=ACCOUNT, headers=auth(key)).json()["id"]
    r = c.post("/api/campaigns", json={"name": "Nov M1", "account_ids": [acc], "script_id": "collections_m1"},
               headers=auth(key))
    assert r.status_code == 201
    camp = r.json()["id"]
    assert c.post(f"/api/campaigns/{camp}/pause", headers=auth(key)).status_code == 409
    assert c.post(f"/api/campaigns/{camp}/start", headers=auth(key)).json()["status"] == "running"
    assert c.post(f"/api/campaigns/{camp}/pause", headers=auth(key)).json()["status"] == "paused"
    seed_call(url, tmp, campaign_id=camp, outcome="ptp", variant="A")
    seed_call(url, tmp, campaign_id=camp, outcome="refused", variant="B")
    seed_call(url, tmp, campaign_id=camp, outcome="wrong_number", variant="B")
    with session_scope(url) as s:
        acc_id = s.query(Call).filter(Call.campaign_id == camp).first().account_id
    for result in ("answered", "answered", "answered", "no_answer", "busy"):
        add_attempt(url, camp, acc_id, result)
    st = c.get(f"/api/campaigns/{camp}/stats", headers=auth(key)).json()
    funnel = {f["stage"]: f["count"] for f in st["funnel"]}
    assert funnel == {"dialled": 5, "answered": 3, "right_party": 2, "promise_or_conversion": 1}
    variants = {v["variant"]: v for v in st["by_variant"]}
    assert variants["collections_m1:A"]["success"] == 1 and variants["collections_m1:B"]["calls"] == 2
    assert sum(h["calls"] for h in st["by_hour"]) == 3 and len(st["by_hour"]) == 24
    assert st["dial_results"]["answered"] == 3


def test_metrics_expose_calls_latency_asr_and_outcomes(env):
    c, url, tmp = env["client"], env["url"], env["tmp"]
    live = seed_call(url, tmp, status="live")
    seed_call(url, tmp, outcome="ptp")
    text = c.get("/metrics").text
    assert "dialwise_active_calls 1.0" in text
    # turns count once their call has ended (latency may be filled in after the turn is written)
    assert 'dialwise_turn_latency_seconds_bucket{le="0.8"} 1.0' in text
    assert 'dialwise_turn_latency_seconds_bucket{le="0.6"} 0.0' in text
    assert "dialwise_asr_seconds_count 1.0" in text
    assert 'dialwise_call_outcomes_total{outcome="ptp"} 1.0' in text
    from datetime import datetime

    with session_scope(url) as s:
        call = s.get(Call, live)
        call.status, call.outcome, call.ended_at = "ended", "refused", datetime.now(UTC)
    for _ in range(2):  # a second scrape must not count the same calls again
        text = c.get("/metrics").text
        assert "dialwise_active_calls 0.0" in text
        assert "dialwise_asr_seconds_count 2.0" in text
        assert 'dialwise_turn_latency_seconds_bucket{le="0.8"} 2.0' in text
    assert c.get("/health").json()["status"] == "ok"


def test_phone_numbers_and_names_are_masked_in_logs(env, caplog):
    c, key = env["client"], env["keys"]["admin"]
    with caplog.at_level(logging.INFO):
        c.get("/api/accounts", params={"q": "+14155550123"}, headers=auth(key))
        logging.getLogger("dialwise.server").info('saw {"name": "Jane Doe", "phone": "+8613812345678"}')
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("dialwise"))
    assert "/api/accounts" in text
    assert "4155550123" not in text and "13812345678" not in text and "Jane Doe" not in text
    assert "23" in text  # the masked form keeps the last digits


def test_console_session_cookie_authenticates(env):
    c, key = env["client"], env["keys"]["supervisor"]
    assert c.post("/console/session", json={"key": "dw_bad_key"}).status_code == 401
    r = c.post("/console/session", json={"key": key})
    assert r.status_code == 200 and "httponly" in r.headers["set-cookie"].lower()
    assert c.get("/api/me").json()["scope"] == "supervisor"
    c.delete("/console/session")
    c.cookies.clear()
    assert c.get("/api/me").status_code == 401


def test_problem_details_for_unknown_routes_and_methods(env):
    c = env["client"]
    r = c.get("/api/nothing-here")
    assert r.status_code == 404 and r.json()["instance"] == "/api/nothing-here"
    r = c.put("/health")
    assert r.status_code == 405 and "PUT" in r.json()["detail"]

"""Quality work in the API: finding calls (phone in any formatting, name, external id, call id), sorting,
one outcome vocabulary with zh/en labels, reviews with an outcome correction and its trail (call.reviewed),
the review queue, CSV exports (masked per scope, formula-neutralised) and the account page's data."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from agent.server.app import create_app
from agent.server.auth import create_key
from agent.server.vocab import labels, missing_labels
from agent.store.db import session_scope
from agent.store.lifecycle_models import AuditFinding, CallAudit
from agent.store.models import Account, Call, ComplianceBlock, OptOut, OutboxEvent, Turn
from dialogs.outcomes import CALL_OUTCOMES
from tests.server_helpers import (
    backends,
    drop_schema,
    make_database_url,
    seed_call,
    seed_campaign,
)

pytestmark = pytest.mark.db


@pytest.fixture(params=backends())
def env(request, tmp_path):
    url = make_database_url(tmp_path, request.param)
    app = create_app(url)
    keys = {}
    with session_scope(url) as s:
        for scope in ("admin", "supervisor", "crm"):
            keys[scope], _ = create_key(s, scope, label=f"{scope} tester")
    camp = seed_campaign(url, "六月 M1")
    now = datetime.now(UTC)
    en = seed_call(url, tmp_path, language="en", outcome="ptp", campaign_id=camp, started_at=now - timedelta(hours=2))
    zh = seed_call(url, tmp_path, language="zh", outcome="refused", started_at=now - timedelta(hours=1))
    with session_scope(url) as s:
        en_acc = s.get(Account, s.get(Call, en).account_id)
        en_acc.phone, en_acc.external_id, en_acc.name = "+13125550142", "=HYPERLINK(\"x\")", "Jane Doe"
        s.get(Account, s.get(Call, zh).account_id).external_id = "LN-2024-0007"
    with TestClient(app) as client:
        yield {"url": url, "c": client, "keys": keys, "en": en, "zh": zh, "camp": camp, "tmp": tmp_path}
    drop_schema(url)


def get(env, path, scope="supervisor", **params):
    return env["c"].get(path, params=params, headers={"Authorization": f"Bearer {env['keys'][scope]}"})


def put(env, path, body, scope="supervisor"):
    return env["c"].put(path, json=body, headers={"Authorization": f"Bearer {env['keys'][scope]}"})


def ids(r) -> list[str]:
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["items"]]


@pytest.mark.parametrize("text", ["+13125550142", "(312) 555-0142", "312.555.0142", "1 312 555 0142",
                                  "13125550142", "555-0142"])
def test_find_a_call_by_the_callees_phone_in_any_formatting(env, text):
    assert ids(get(env, "/api/calls", find=text)) == [env["en"]]


def test_find_by_name_external_id_and_call_id_and_nothing_else(env):
    assert ids(get(env, "/api/calls", find="王芳")) == [env["zh"]]
    assert ids(get(env, "/api/calls", find="jane")) == [env["en"]]
    assert ids(get(env, "/api/calls", find="LN-2024-0007")) == [env["zh"]]
    assert ids(get(env, "/api/calls", find=env["zh"])) == [env["zh"]]
    assert ids(get(env, "/api/calls", find=env["zh"][:8])) == [env["zh"]]
    assert ids(get(env, "/api/calls", find="+8613900000000")) == []
    assert ids(get(env, "/api/calls", find="%")) == []  # LIKE wildcards match only themselves
    # a crm key finds by id, never by name or phone (that would reveal them a guess at a time)
    assert ids(get(env, "/api/calls", "crm", find="王芳")) == []
    assert ids(get(env, "/api/calls", "crm", find="+13125550142")) == []
    assert ids(get(env, "/api/calls", "crm", find="LN-2024-0007")) == [env["zh"]]


def test_rows_carry_account_duration_promise_campaign_and_mask_for_crm(env):
    row = {c["id"]: c for c in get(env, "/api/calls").json()["items"]}[env["en"]]
    assert row["account_name"] == "Jane Doe" and row["account_phone"] == "+13125550142"
    assert row["campaign_name"] == "六月 M1" and row["promise_amount"] == 500.0 and row["currency"] == "USD"
    assert row["account_timezone"] == "America/New_York" and row["duration_ms"] > 1000
    crm = {c["id"]: c for c in get(env, "/api/calls", "crm").json()["items"]}[env["en"]]
    assert crm["account_name"] != "Jane Doe" and "5550142" not in crm["account_phone"]


def test_sorting_and_one_outcome_vocabulary(env):
    assert ids(get(env, "/api/calls")) == [env["zh"], env["en"]]
    assert ids(get(env, "/api/calls", sort="started_at")) == [env["en"], env["zh"]]
    assert ids(get(env, "/api/calls", sort="-promise_amount")) == [env["en"], env["zh"]]  # nulls last
    assert ids(get(env, "/api/calls", sort="account")) == [env["en"], env["zh"]]  # Jane < 王芳
    assert len(ids(get(env, "/api/calls", sort="-duration"))) == 2
    for bad in ({"sort": "id; drop table calls"}, {"outcome": "nonsense"}, {"tz": "Mars/Base"}):
        r = get(env, "/api/calls", **bad)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert ids(get(env, "/api/calls", outcome="unverified")) == []  # in the vocabulary: filters, never ignored
    vocab = get(env, "/api/vocab").json()
    assert vocab["outcomes"] == list(CALL_OUTCOMES) and "unverified" in vocab["outcomes"]
    assert missing_labels() == []
    for group, table in labels().items():
        if isinstance(table, dict):
            for code, text in table.items():
                assert text["en"] and text["zh"] and text["en"] != text["zh"] or group == "x", (group, code)


def test_the_date_filter_counts_days_in_the_viewers_zone(env):
    with session_scope(env["url"]) as s:  # 2025-03-01 23:30 in Shanghai is 15:30 UTC the same day
        s.get(Call, env["zh"]).started_at = datetime(2025, 3, 1, 15, 30, tzinfo=UTC)
        s.get(Call, env["en"]).started_at = datetime(2025, 3, 1, 17, 0, tzinfo=UTC)  # 3-02 01:00 Shanghai
    assert ids(get(env, "/api/calls", date_from="2025-03-01", date_to="2025-03-01")) == [env["en"], env["zh"]]
    assert ids(get(env, "/api/calls", date_from="2025-03-01", date_to="2025-03-01", tz="Asia/Shanghai")) == [env["zh"]]
    assert ids(get(env, "/api/calls", date_from="2025-03-02", date_to="2025-03-02", tz="Asia/Shanghai")) == [env["en"]]


def test_review_and_correct_a_call_keeps_the_original_and_its_trail(env):
    path = f"/api/calls/{env['zh']}/review"
    assert get(env, path).json()["review"] is None
    card = get(env, "/api/scorecard").json()
    assert [i["id"] for i in card["items"]] == ["disclosure", "verification", "tone", "outcome_correct"]
    r = put(env, path, {"notes": "客户称已还款，需核实", "tags": ["complaint", "coaching"],
                        "scores": {"disclosure": 1, "verification": 1, "tone": 3, "outcome_correct": 0},
                        "outcome": "paid_already", "version": 0})
    assert r.status_code == 200, r.text
    review = r.json()["review"]
    assert review["outcome_original"] == "refused" and review["outcome_corrected"] == "paid_already"
    assert review["score"] == 65.0 and review["tags"] == ["coaching", "complaint"] and review["version"] == 1
    assert review["reviewed_by"] == "supervisor tester"
    history = {h["field"]: h for h in r.json()["history"]}
    assert history["outcome"]["old"] == "refused" and history["outcome"]["new"] == "paid_already"
    assert history["outcome"]["by"] == "supervisor tester" and history["outcome"]["at"]
    row = {c["id"]: c for c in get(env, "/api/calls").json()["items"]}[env["zh"]]
    assert row["outcome"] == "paid_already" and row["outcome_original"] == "refused" and row["review_score"] == 65.0
    assert ids(get(env, "/api/calls", outcome="paid_already")) == [env["zh"]]
    with session_scope(env["url"]) as s:
        events = [e.payload for e in s.query(OutboxEvent).filter_by(type="call.reviewed")]
    assert events and events[0]["outcome_original"] == "refused" and events[0]["changed"]
    assert "notes" not in events[0]  # free text stays out of webhooks
    # stale version: refused, nothing changed
    r = put(env, path, {"notes": "overwrite", "version": 0})
    assert r.status_code == 409 and r.json()["current_version"] == 1
    # crm: reads the review without its notes, may not write
    crm = get(env, path, "crm").json()
    assert crm["review"]["notes"] is None and crm["review"]["notes_hidden"]
    assert put(env, path, {"notes": "x"}, "crm").status_code == 403
    # hostile input: 4xx problem documents, never 500
    for body in ({"scores": {"tone": 9}}, {"scores": {"nope": 1}}, {"outcome": "bogus"}, {"tags": ["<script>"]},
                 {"notes": "x" * 10_001}, {"extra": 1}, {"tags": "complaint"}):
        r = put(env, path, body)
        assert r.status_code == 422, (body, r.text)
    assert put(env, "/api/calls/nope/review", {"notes": "x"}).status_code == 404
    # undo the correction: the original comes back, the trail keeps both changes
    r = put(env, path, {"outcome": "refused"})
    assert r.json()["review"]["outcome_original"] is None
    assert [h["field"] for h in r.json()["history"]].count("outcome") == 2


def test_a_configured_scorecard_is_used_and_live_calls_are_not_reviewed(env):
    items = [{"id": "greeting", "en": "Greeting", "zh": "问候", "weight": 1, "max": 1},
             {"id": "empathy", "en": "Empathy", "zh": "同理心", "weight": 3, "max": 4}]
    assert put(env, "/api/scorecard", {"items": items}, "supervisor").status_code == 403
    r = put(env, "/api/scorecard", {"items": items}, "admin")
    assert r.status_code == 200 and r.json()["version"] == 1
    r = put(env, f"/api/calls/{env['en']}/review", {"scores": {"greeting": 1, "empathy": 2}})
    assert r.json()["review"]["score"] == 62.5 and r.json()["review"]["scorecard_version"] == 1
    live = seed_call(env["url"], env["tmp"], status="live")
    assert put(env, f"/api/calls/{live}/review", {"notes": "x"}).status_code == 409


def test_review_queue_lists_flagged_complaints_and_low_confidence(env):
    with session_scope(env["url"]) as s:
        s.add(CallAudit(call_id=env["en"], findings=1))
        s.add(AuditFinding(call_id=env["en"], rule="audit_disclosure_recorded", turn_seq=0, detail="x"))
        s.add(Turn(call_id=env["zh"], seq=5, speaker="callee", text="我要投诉", intent="complaint", confidence=0.3))
    q = get(env, "/api/reviews/queue").json()
    reasons = {c["id"]: c["reasons"] for c in q["items"]}
    assert reasons == {env["en"]: ["finding"], env["zh"]: ["complaint", "low_confidence"]}
    assert ids(get(env, "/api/reviews/queue", reason="finding")) == [env["en"]]
    put(env, f"/api/calls/{env['en']}/review", {"tags": ["coaching"]})
    assert ids(get(env, "/api/reviews/queue")) == [env["zh"]]
    assert ids(get(env, "/api/reviews/queue", state="reviewed")) == [env["en"]]
    assert get(env, "/api/reviews/queue", reason="x").status_code == 422


def _rows(r) -> list[dict[str, str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv") and "attachment" in r.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


def test_exports_are_masked_per_scope_and_formula_neutralised(env):
    put(env, f"/api/calls/{env['en']}/review", {"notes": "=cmd|' /C calc'!A0", "tags": ["coaching"],
                                                "scores": {"tone": 4}})
    rows = {r["call_id"]: r for r in _rows(get(env, "/api/exports/calls.csv"))}
    assert set(rows) == {env["en"], env["zh"]}
    en = rows[env["en"]]
    assert en["account_external_id"] == "'=HYPERLINK(\"x\")" and en["account_phone"] == "+13125550142"
    assert en["account_name"] == "Jane Doe" and en["campaign"] == "六月 M1" and en["promise_amount"] == "500.0"
    assert en["started_at_callee"].endswith(("-04:00", "-05:00")) and en["review_tags"] == "coaching"
    assert [r["call_id"] for r in _rows(get(env, "/api/exports/calls.csv", find="王芳"))] == [env["zh"]]
    crm = {r["call_id"]: r for r in _rows(get(env, "/api/exports/calls.csv", "crm"))}[env["en"]]
    assert crm["account_name"] != "Jane Doe" and "5550142" not in crm["account_phone"]
    reviews = _rows(get(env, "/api/exports/reviews.csv"))
    assert reviews[0]["notes"] == "'=cmd|' /C calc'!A0" and reviews[0]["score.tone"] == "4.0"
    assert _rows(get(env, "/api/exports/reviews.csv", "crm"))[0]["notes"] == ""
    assert get(env, "/api/exports/calls.csv", outcome="bogus").status_code == 422
    assert env["c"].get("/api/exports/calls.csv").status_code == 401


def test_recording_downloads_under_the_same_auth(env):
    r = get(env, f"/api/calls/{env['en']}/recording", download="true")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    assert r.content[:4] == b"RIFF"
    assert get(env, f"/api/calls/{env['en']}/recording", "crm", download="true").status_code == 403


def test_account_page_says_why_blocks_opt_outs_and_the_gate_now(env):
    with session_scope(env["url"]) as s:
        acc = s.get(Call, env["zh"]).account_id
        phone = s.get(Account, acc).phone
        s.add(ComplianceBlock(account_id=acc, rule="cn_calling_hours",
                              reason=f"23:10 at {phone} is outside 08:00-22:00"))
        s.add(OptOut(phone=phone, account_id=acc, source_call_id=env["zh"]))
    r = get(env, f"/api/accounts/{acc}/overview")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["id"] for c in body["calls"]] == [env["zh"]] and body["calls_total"] == 1
    assert body["blocks"][0]["rule"] == "cn_calling_hours" and phone in body["blocks"][0]["reason"]
    assert body["opt_outs"][0]["phone"] == phone
    assert body["gate"]["allowed"] is False and body["gate"]["rule"] == "opt_out"
    crm = get(env, f"/api/accounts/{acc}/overview", "crm").json()
    assert phone not in crm["blocks"][0]["reason"] and crm["opt_outs"][0]["phone"] != phone
    assert crm["account"]["name"] != "王芳"
    assert get(env, "/api/accounts/nope/overview").status_code == 404

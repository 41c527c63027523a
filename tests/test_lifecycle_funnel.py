"""Funnel and strategy reports: dialled -> connected -> right party -> promise -> kept per variant, segment,
local hour and campaign; cost per kept promise; A/B comparisons with intervals; the CLI JSON keeps its
fields and adds the funnel; GET /api/campaigns/{id}/funnel answers bad input with a 4xx problem.
Real SQLite and PostgreSQL."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from agent.campaign.funnel import family_of, funnel_report, newcombe_difference
from agent.campaign.report import wilson_interval
from agent.server.app import create_app
from agent.server.auth import create_key
from agent.store.db import session_scope
from agent.store.lifecycle_models import Promise
from agent.store.models import Account, Attempt, Call, Campaign, Outcome
from tests.server_helpers import backends, drop_schema, make_database_url

pytestmark = pytest.mark.db
T0 = datetime(2025, 6, 4, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, 22:00 (day before) in New York


def _dial(s, camp, acc, script, i, result, *, outcome=None, seconds=0, promise=None, slots=None):
    at = T0 + timedelta(minutes=i)
    att = Attempt(id=f"att{i}", campaign_id=camp, account_id=acc, script_id=script, phone="+8613800000000",
                  status="done", dialed_at=at, result=result)
    s.add(att)
    s.flush()
    if outcome is None:
        return
    call = Call(id=f"call{i}", attempt_id=att.id, account_id=acc, campaign_id=camp, script_id=script,
                language="zh", status="ended", started_at=at, ended_at=at + timedelta(seconds=seconds),
                outcome=outcome, slots=slots or {})
    s.add(call)
    s.flush()
    s.add(Outcome(call_id=call.id, account_id=acc, kind=outcome, promise_amount=1000.0 if outcome == "ptp" else None))
    if promise:
        s.add(Promise(account_id=acc, call_id=call.id, amount=1000.0, currency="CNY", due_date=date(2025, 6, 9),
                      status=promise, promised_at=at))


def seed(url):
    with session_scope(url) as s:
        s.add_all([Campaign(id="camp1", name="六月 M1"), Campaign(id="camp2", name="other")])
        s.add(Account(id="zh1", external_id="Z1", name="王芳", phone="+8613800000001", timezone="Asia/Shanghai",
                      language="zh", bucket="M1", product="card"))
        s.add(Account(id="en1", external_id="E1", name="Jane", phone="+14155550101", timezone="America/New_York",
                      jurisdiction="US", language="en", bucket="M2", product="loan", currency="USD"))
        s.flush()
        plan = ([("collections_m1_zh_a", "zh1", "no_answer", None, 0, None)] * 4
                + [("collections_m1_zh_a", "zh1", "answered", "third_party", 120, None)] * 2
                + [("collections_m1_zh_a", "zh1", "answered", "ptp", 120, st)
                   for st in ("kept", "kept", "broken", "partially_kept")]
                + [("collections_m1_zh_b", "zh1", "busy", None, 0, None)] * 8
                + [("collections_m1_zh_b", "zh1", "answered", "refused", 60, None)] * 2
                + [("collections_m2_en_a", "en1", "answered", "ptp", 30, "kept")] * 5)
        # variant a (zh): 4 unanswered, 2 third party, 4 promises (2 kept, 1 broken, 1 partially kept), 120 s
        # each; variant b (zh): 8 unanswered, 2 refusals of 60 s; en: 5 promises of 30 s, all kept
        for i, (script, acc, result, outcome, seconds, promise) in enumerate(plan):
            _dial(s, "camp1", acc, script, i, result, outcome=outcome, seconds=seconds, promise=promise)
        # a gate-blocked attempt is no dial; another campaign's dial is not in camp1
        s.add(Attempt(id="blocked", campaign_id="camp1", account_id="zh1", script_id="collections_m1_zh_a",
                      phone="+8613800000001", status="blocked", result="blocked"))
        _dial(s, "camp2", "zh1", "collections_m1_zh_a", 99, "no_answer")


@pytest.fixture(params=backends())
def env(request, tmp_path):
    url = make_database_url(tmp_path, request.param)
    app = create_app(url)
    seed(url)
    with session_scope(url) as s:
        key, _ = create_key(s, "supervisor")
    with TestClient(app) as client:
        yield {"url": url, "client": client, "key": key, "tmp": tmp_path}
    drop_schema(url)


def stage(row, name):
    return next(s for s in row["stages"] if s["stage"] == name)


def counts(row):
    return [s["count"] for s in row["stages"]]


def test_funnel_by_variant_with_steps_intervals_and_cost_per_kept(env):
    with session_scope(env["url"]) as s:
        rep = funnel_report(s, "camp1", price=0.5, currency="CNY")
    rows = {r["group"]: r for r in rep["by"]["variant"]}
    assert counts(rows["collections_m1_zh_a"]) == [10, 6, 4, 4, 2]
    assert counts(rows["collections_m1_zh_b"]) == [10, 2, 2, 0, 0]
    assert counts(rows["collections_m2_en_a"]) == [5, 5, 5, 5, 5]
    assert counts(rep["total"]) == [25, 13, 11, 9, 7]
    a = rows["collections_m1_zh_a"]
    assert stage(a, "connected")["step"]["rate"] == 0.6 and stage(a, "right_party")["step"]["rate"] == round(4 / 6, 4)
    assert stage(a, "kept")["step"]["rate"] == 0.5 and stage(a, "kept")["per_dial"]["rate"] == 0.2
    lo, hi = wilson_interval(2, 10)
    kept_per_dial = stage(a, "kept")["per_dial"]
    assert kept_per_dial["ci_low"] == round(lo, 4) and kept_per_dial["ci_high"] == round(hi, 4)
    assert a["partially_kept"] == 1 and a["promised_amount"] == 4000.0
    # 6 calls x 2 min x 0.5 = 6.00 for 2 kept promises
    assert (a["minutes"], a["cost"], a["cost_per_kept"]) == (12.0, 6.0, 3.0)
    assert rows["collections_m1_zh_b"]["cost"] == 1.0 and rows["collections_m1_zh_b"]["cost_per_kept"] is None
    assert rep["total"]["minutes"] == 12 + 2 + 2.5 and rep["total"]["cost_per_kept"] == round(8.25 / 7, 2)
    assert (rep["price_per_minute"], rep["currency"]) == (0.5, "CNY")


def test_funnel_by_segment_hour_and_campaign(env):
    with session_scope(env["url"]) as s:
        rep = funnel_report(s, None, price=None)
    seg = {r["group"]: counts(r) for r in rep["by"]["segment"]}
    assert seg == {"M1 · card · zh": [21, 8, 6, 4, 2], "M2 · loan · en": [5, 5, 5, 5, 5]}
    hours = {r["group"]: r["dials"] for r in rep["by"]["hour"]}
    assert hours == {10: 20, 11: 1, 22: 5}  # callee-local: 02:xx UTC is 10:xx in Shanghai, 22:xx in New York
    camps = {r["group"]: r["dials"] for r in rep["by"]["campaign"]}
    assert camps == {"camp1": 25, "camp2": 1}
    assert rep["price_per_minute"] is None and rep["total"]["cost"] is None  # no price set: no cost figures


def test_variant_comparison_has_newcombe_intervals():
    d, lo, hi = newcombe_difference(2, 10, 0, 10)
    assert d == -0.2 and lo < -0.2 < hi and hi > 0  # 2/10 vs 0/10: not significant
    d, lo, hi = newcombe_difference(5, 100, 30, 100)
    assert d == 0.25 and 0 < lo < 0.25 < hi  # clearly better
    # Newcombe (1998) table II, example (e): 56/70 vs 48/80 -> 0.2 [0.0524, 0.3339] for p1 - p2
    d, lo, hi = newcombe_difference(48, 80, 56, 70)
    assert math.isclose(lo, 0.0524, abs_tol=5e-4) and math.isclose(hi, 0.3339, abs_tol=5e-4)
    assert family_of("collections_m1_zh_b") == "collections_m1_zh" and family_of("s_x:B") == "s_x"


def test_ab_comparison_in_the_report(env):
    with session_scope(env["url"]) as s:
        rep = funnel_report(s, "camp1")
    comp = [c for c in rep["comparisons"] if c["family"] == "collections_m1_zh"]
    assert {c["metric"] for c in comp} == {"promise_per_dial", "kept_per_dial"}
    kept = next(c for c in comp if c["metric"] == "kept_per_dial")
    assert (kept["a"], kept["b"], kept["a_rate"], kept["b_rate"], kept["difference"]) == (
        "collections_m1_zh_a", "collections_m1_zh_b", 0.2, 0.0, -0.2)
    assert kept["ci_low"] < -0.2 < kept["ci_high"] and kept["significant"] is False
    prom = next(c for c in comp if c["metric"] == "promise_per_dial")
    assert prom["difference"] == -0.4 and prom["ci_high"] < 0 and prom["significant"] is True


def test_funnel_api_and_its_bad_input(env):
    h = {"Authorization": f"Bearer {env['key']}"}
    c = env["client"]
    r = c.get("/api/campaigns/camp1/funnel", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body["by"]) == ["variant"] and counts(body["total"]) == [25, 13, 11, 9, 7] and body["comparisons"]
    r = c.get("/api/campaigns/camp1/funnel", params={"by": "hour"}, headers=h)
    assert {row["group"] for row in r.json()["by"]["hour"]} == {10, 22}
    r = c.get("/api/campaigns/camp1/funnel", params={"by": "segment", "since": "2030-01-01"}, headers=h)
    assert r.status_code == 200 and r.json()["total"]["dials"] == 0 and r.json()["by"]["segment"] == []
    for params, status in (({"by": "weekday"}, 422), ({"since": "yesterday"}, 422), ({"by": ""}, 422)):
        r = c.get("/api/campaigns/camp1/funnel", params=params, headers=h)
        assert r.status_code == status, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json") and r.json()["detail"]
    r = c.get("/api/campaigns/nope/funnel", headers=h)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert c.get("/api/campaigns/camp1/funnel").status_code == 401


def test_cli_report_json_keeps_its_fields_and_adds_the_funnel(env):
    run_env = {"DATABASE_URL": env["url"], "VAR_DIR": str(env["tmp"]), "PATH": "/usr/bin:/bin",
               "CALL_PRICE_PER_MINUTE": "0.5", "CALL_PRICE_CURRENCY": "USD", "COLUMNS": "200"}
    cmd = [sys.executable, "-c", "from agent.cli import main; main()", "campaigns", "report", "--campaign", "camp1"]
    out = subprocess.run(cmd + ["--json"], capture_output=True, text=True, env=run_env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"campaign_id", "since", "dials", "variants"} <= set(data) and data["dials"] == 25
    assert [v["ptp"]["count"] for v in data["variants"]] == [4, 0, 5]
    f = data["funnel"]
    assert f["currency"] == "USD" and f["price_per_minute"] == 0.5 and set(f["by"]) == {"campaign", "variant",
                                                                                         "segment", "hour"}
    assert counts(f["total"]) == [25, 13, 11, 9, 7]
    table = subprocess.run(cmd + ["--by", "segment"], capture_output=True, text=True, env=run_env, timeout=120,
                           check=False)
    assert table.returncode == 0 and "M2 · loan · en" in table.stdout, table.stderr
    bad = subprocess.run(cmd + ["--by", "weekday"], capture_output=True, text=True, env=run_env, timeout=120,
                         check=False)
    assert bad.returncode != 0 and "--by must be one of" in bad.stderr and "Traceback" not in bad.stderr

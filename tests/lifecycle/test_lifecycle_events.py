"""CRM events in (POST /api/events, dialwise events import): idempotent, 404/409/422, applied by `at`;
promises as records: kept, partially kept, broken by the sweep, webhooks; a payment ends collections.
Real SQLite and PostgreSQL, real HTTP (TestClient over the ASGI app)."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from agent.server.app import create_app
from agent.server.auth import create_key
from agent.store.db import session_scope
from agent.store.lifecycle_models import CrmEvent, Promise
from agent.store.models import Account, Attempt, OutboxEvent
from tests.lifecycle_support import finished_call, make_account
from tests.server_helpers import backends, drop_schema, make_database_url

pytestmark = pytest.mark.db
NOW = datetime.now(UTC).replace(microsecond=0)


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


def post(env, body, scope="crm"):
    return env["client"].post("/api/events", json=body, headers={"Authorization": f"Bearer {env['keys'][scope]}"})


def get(env, path, **params):
    return env["client"].get(path, params=params, headers={"Authorization": f"Bearer {env['keys']['admin']}"})


def payment(eid, ext, amount, at, currency=None):
    body = {"id": eid, "type": "payment", "account_external_id": ext, "amount": amount, "at": at.isoformat()}
    if currency:
        body["currency"] = currency
    return body


def count(url, model) -> int:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("lang,currency", [("zh", "CNY"), ("en", "USD")])
def test_a_payment_applies_once_and_a_repeat_gets_the_same_answer(env, lang, currency):
    acc = make_account(env["url"], "crm-1", lang, balance=1000.0)
    body = payment("ev-1", "crm-1", 400.0, NOW - timedelta(minutes=5), currency)
    first = post(env, body)
    assert first.status_code == 200, first.text
    again = post(env, body)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    with session_scope(env["url"]) as s:
        assert s.get(Account, acc).balance == 600.0  # one effect
    assert count(env["url"], CrmEvent) == 1
    other = dict(body, amount=401.0)
    r = post(env, other)
    assert r.status_code == 409 and "different event" in r.json()["detail"]


def test_unknown_account_404_and_bad_payloads_422_write_nothing(env):
    make_account(env["url"], "crm-2", "en")
    r = post(env, payment("ev-x", "nobody", 10.0, NOW))
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert "nobody" in r.json()["detail"]
    bad = [
        ({"id": "e1", "type": "payment", "account_external_id": "crm-2", "amount": 5}, "at"),
        ({**payment("e2", "crm-2", 5, NOW), "at": "2025-06-09T10:00:00"}, "at"),
        ({**payment("e3", "crm-2", 5, NOW), "type": "refund"}, "type"),
        (payment("e4", "crm-2", -5, NOW), "amount"),
        ({**payment("e5", "crm-2", 5, NOW), "amount": None}, "amount"),
        ({"id": "e6", "type": "due_date_changed", "account_external_id": "crm-2", "at": NOW.isoformat()}, "due_date"),
        (payment("e7", "crm-2", 5, NOW, "CNY"), "currency"),
        ({**payment("e8", "crm-2", 5, NOW), "colour": "red"}, "colour"),
        ({**payment("", "crm-2", 5, NOW)}, "id"),
    ]
    for body, field in bad:
        r = post(env, body)
        assert r.status_code == 422, (body, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (field, r.json())
    r = env["client"].post("/api/events", content=b"{not json", headers={
        "Authorization": f"Bearer {env['keys']['crm']}", "Content-Type": "application/json"})
    assert r.status_code == 422
    assert count(env["url"], CrmEvent) == 0
    with session_scope(env["url"]) as s:
        assert s.scalars(select(Account)).one().balance == 1200.0


def test_events_need_the_crm_scope(env):
    make_account(env["url"], "crm-3", "zh")
    assert post(env, payment("s1", "crm-3", 1, NOW), scope="supervisor").status_code == 403
    assert post(env, payment("s1", "crm-3", 1, NOW), scope="admin").status_code == 200


def test_out_of_order_events_are_applied_by_at(env):
    acc = make_account(env["url"], "crm-4", "zh")
    later = {"id": "d2", "type": "due_date_changed", "account_external_id": "crm-4",
             "due_date": "2025-07-20", "at": (NOW - timedelta(hours=1)).isoformat()}
    earlier = dict(later, id="d1", due_date="2025-07-10", at=(NOW - timedelta(hours=5)).isoformat())
    assert post(env, later).status_code == 200
    r = post(env, earlier)
    assert r.status_code == 200 and r.json()["effect"]["applied"] is False
    with session_scope(env["url"]) as s:
        assert s.get(Account, acc).due_date == date(2025, 7, 20)


def _ptp(env, acc, amount, due, lang="zh"):
    """A ptp call; a promise due in the past was made 3 days before its due date."""
    call_id = finished_call(env["url"], acc, "ptp", {"pay_amount": amount, "pay_date": due.isoformat()}, lang=lang)
    with session_scope(env["url"]) as s:
        p = s.scalars(select(Promise).where(Promise.call_id == call_id)).one()
        if due < NOW.date():
            p.promised_at = datetime.combine(due, datetime.min.time(), tzinfo=UTC) - timedelta(days=3)
        else:  # made just before the module's NOW, which the payments are dated from (the suite may run long)
            p.promised_at = NOW - timedelta(minutes=5)
    return call_id


def _events(url, kind):
    with session_scope(url) as s:
        return [e.payload for e in s.scalars(select(OutboxEvent).where(OutboxEvent.type == kind))]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_promise_from_ptp_kept_by_payments_within_tolerance(env, lang):
    acc = make_account(env["url"], "crm-5", lang, balance=3000.0)
    due = NOW.date() + timedelta(days=3)
    call_id = _ptp(env, acc, 1000.0, due, lang)
    pending = get(env, "/api/promises", status="pending").json()
    assert pending["total"] == 1 and pending["items"][0]["call_id"] == call_id
    assert pending["items"][0]["amount"] == 1000.0 and pending["items"][0]["due_date"] == due.isoformat()
    r = post(env, payment("p1", "crm-5", 400.0, NOW))
    assert r.json()["effect"]["promises"][0]["to"] == "partially_kept"
    r = post(env, payment("p2", "crm-5", 590.0, NOW + timedelta(minutes=1)))  # 990 of 1000: within 2 % + 1
    assert r.json()["effect"]["promises"][0]["to"] == "kept"
    kept = get(env, "/api/promises", status="kept").json()
    assert kept["total"] == 1 and kept["counts"]["kept"] == 1 and kept["items"][0]["paid_amount"] == 990.0
    assert [e["call_id"] for e in _events(env["url"], "promise.kept")] == [call_id]
    assert get(env, "/api/promises", status="bogus").status_code == 422


def test_sweep_breaks_unpaid_promises_and_a_late_dated_payment_keeps_them(env):
    acc = make_account(env["url"], "crm-6", "zh", balance=5000.0)
    kept_acc = make_account(env["url"], "crm-7", "en", balance=5000.0, phone="+14155550199")
    due = NOW.date() - timedelta(days=4)  # grace (2 days) is over
    _ptp(env, acc, 800.0, due)
    _ptp(env, kept_acc, 800.0, NOW.date() + timedelta(days=1), "en")
    r = env["client"].post("/api/promises/sweep", headers={"Authorization": f"Bearer {env['keys']['supervisor']}"})
    assert r.status_code == 200 and r.json()["count"] == 1
    assert env["client"].post("/api/promises/sweep", headers={
        "Authorization": f"Bearer {env['keys']['supervisor']}"}).json()["count"] == 0  # idempotent
    broken = get(env, "/api/promises", status="broken").json()["items"]
    assert [p["account_id"] for p in broken] == [acc]
    assert len(_events(env["url"], "promise.broken")) == 1
    # the CRM reports late a payment made on the due date: the promise was kept after all
    paid_at = datetime.combine(due, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    r = post(env, payment("late-1", "crm-6", 800.0, paid_at))
    assert r.json()["effect"]["promises"] == [{"promise_id": broken[0]["id"], "from": "broken", "to": "kept",
                                               "applied": 800.0}]
    # a payment dated after the window does not count
    _ptp(env, kept_acc, 300.0, NOW.date() - timedelta(days=5), "en")
    r = post(env, payment("late-2", "crm-7", 300.0, NOW))
    assert r.json()["effect"]["promises"] == []


def test_a_payment_takes_the_account_out_of_collections_even_with_a_call_queued(env):
    from agent.dialing.place import Blocked, prepare_attempt

    url = env["url"]
    acc = make_account(url, "crm-8", "zh", balance=900.0)
    with session_scope(url) as s:
        queued = Attempt(account_id=acc, script_id="collections_m1_zh_a", phone="+8613812345678",
                         status="planned", not_before=NOW + timedelta(minutes=5))
        claimed = Attempt(account_id=acc, script_id="collections_m1_zh_a", phone="+8613812345678",
                          status="claimed", not_before=NOW)
        s.add_all([queued, claimed])
        s.flush()
        ids = [queued.id, claimed.id]
    r = post(env, payment("pay-q", "crm-8", 100.0, NOW - timedelta(minutes=1)))
    assert sorted(r.json()["effect"]["cancelled_attempts"]) == sorted(ids)
    with session_scope(url) as s:
        rows = [s.get(Attempt, i) for i in ids]
        assert {(a.status, a.blocked_rule) for a in rows} == {("blocked", "payment_received")}
        late = Attempt(account_id=acc, script_id="collections_m1_zh_a", phone="+8613812345678", status="planned")
        s.add(late)
        s.flush()
        late_id = late.id
    # a dial queued after the payment (e.g. by another planner) is refused by the gate at dial time
    at = datetime(2030, 6, 10, 3, 0, tzinfo=UTC)  # 11:00 Shanghai, a Monday
    out = prepare_attempt(late_id, "loopback", at=at, db_url=url)
    assert isinstance(out, Blocked) and out.rule == "payment_received"
    # a missed payment later brings the account back into collections
    missed = {"id": "miss-1", "type": "payment_missed", "account_external_id": "crm-8",
              "at": (NOW + timedelta(seconds=1)).isoformat()}
    assert post(env, missed).status_code == 200
    with session_scope(url) as s:
        again = Attempt(account_id=acc, script_id="collections_m1_zh_a", phone="+8613812345678", status="planned")
        s.add(again)
        s.flush()
        again_id = again.id
    assert not isinstance(prepare_attempt(again_id, "loopback", at=at, db_url=url), Blocked)


def test_no_other_collections_call_while_a_promise_is_pending_but_its_reminder(env):
    from agent.dialing.place import Blocked, prepare_attempt

    url = env["url"]
    acc = make_account(url, "crm-9", "zh", balance=900.0)
    _ptp(env, acc, 900.0, NOW.date() + timedelta(days=2))
    at = NOW + timedelta(days=1)
    at = at.replace(hour=3, minute=0)  # 11:00 Shanghai
    ids = {}
    with session_scope(url) as s:
        for script in ("collections_m1_zh_a", "collections_ptp_reminder_zh_a"):
            a = Attempt(account_id=acc, script_id=script, phone="+8613812345678", status="planned")
            s.add(a)
            s.flush()
            ids[script] = a.id
    out = prepare_attempt(ids["collections_m1_zh_a"], "loopback", at=at, db_url=url)
    assert isinstance(out, Blocked) and out.rule == "promise_pending"
    ok = prepare_attempt(ids["collections_ptp_reminder_zh_a"], "loopback", at=at, db_url=url)
    assert not isinstance(ok, Blocked), ok


def test_import_is_all_or_nothing_and_in_at_order(env, tmp_path, monkeypatch):
    from agent.errors import UserError
    from agent.lifecycle.importer import import_events

    url = env["url"]
    acc = make_account(url, "crm-10", "en", balance=1000.0)
    lines = [
        {"id": "i3", "type": "due_date_changed", "account_external_id": "crm-10", "due_date": "2025-08-03",
         "at": "2025-06-03T10:00:00+00:00"},
        {"id": "i1", "type": "due_date_changed", "account_external_id": "crm-10", "due_date": "2025-08-01",
         "at": "2025-06-01T10:00:00+00:00"},
        payment("i2", "crm-10", 100.0, datetime(2025, 6, 2, tzinfo=UTC)),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n" + '{"id": "bad"}\n'
                    + json.dumps(payment("i4", "ghost", 1, NOW)) + "\n")
    with pytest.raises(UserError) as err:
        import_events(path, url)
    assert "nothing was imported" in str(err.value) and ":4:" in str(err.value) and "ghost" in str(err.value)
    assert count(url, CrmEvent) == 0
    path.write_text("\n".join(json.dumps(x) for x in lines + [lines[0]]) + "\n")
    out = import_events(path, url)
    assert out["applied"] == 3 and out["events"] == 3
    with session_scope(url) as s:
        a = s.get(Account, acc)
        assert a.due_date == date(2025, 8, 3) and a.balance == 900.0
    assert import_events(path, url)["already_applied"] == 3
    with session_scope(url) as s:
        assert s.get(Account, acc).balance == 900.0

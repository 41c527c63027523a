"""A created record is committed before its 201 is sent: the client's very next request finds it.

FastAPI ends a yield dependency after the response by default; the request's session then committed after
the client had its 201, and a quick follow-up (`/start` right after creating the campaign) could get 404.
CI saw exactly that. A slow commit makes the window wide enough to hit every time on the old order."""
from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from agent.server.app import create_app
from agent.server.auth import create_key
from agent.store.db import session_scope
from tests.dial_support import zone_at_local_hour
from tests.tel_support import ServerThread, free_port

pytestmark = pytest.mark.timeout(120)


def slow_commit(session: Session) -> None:
    if session.new or session.dirty:
        time.sleep(0.4)


def test_what_a_201_created_is_there_for_the_next_request(tmp_path):
    url = f"sqlite:///{tmp_path / 'commit.sqlite3'}"
    app = create_app(url)
    with session_scope(url) as s:
        key, _ = create_key(s, "admin")
    port = free_port()
    event.listen(Session, "before_commit", slow_commit)
    try:
        with ServerThread(app, port):
            api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"},
                               timeout=20)
            r = api.post("/api/accounts", json={
                "name": "王芳", "language": "zh", "balance": 2000, "currency": "CNY", "phone": "+8613800138000",
                "timezone": zone_at_local_hour(11), "jurisdiction": "CN", "days_past_due": 10, "id_last4": "1234",
                "bucket": "M1"})
            assert r.status_code == 201, r.text
            account = r.json()["id"]
            assert api.get(f"/api/accounts/{account}").status_code == 200
            r = api.post("/api/campaigns", json={"name": "at once", "network": "loopback",
                                                 "account_ids": [account], "script_id": "collections_m1_zh"})
            assert r.status_code == 201, r.text
            started = api.post(f"/api/campaigns/{r.json()['id']}/start")
            assert started.status_code == 200, started.text
    finally:
        event.remove(Session, "before_commit", slow_commit)

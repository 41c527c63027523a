"""CRM webhooks: signed delivery, retries with backoff, dead letters, no loss, no double claim."""
from __future__ import annotations

import json
import random
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.server.app import prepare_database
from agent.server.webhook_receiver import SignatureError, verify
from agent.server.webhooks import Dispatcher, RetryPolicy, create_subscription, redeliver, signature_header
from agent.store.db import session_scope
from agent.store.models import WebhookDelivery
from tests.server_helpers import add_event, backends, drop_schema, make_database_url


class Receiver:
    """A real HTTP CRM endpoint that verifies signatures; it can go down and come back on one port."""

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.events: dict[str, int] = {}  # event id -> times received
        self.bodies: dict[str, dict] = {}
        self.refused = 0
        self.fail_with: int | None = None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/dialwise"

    def up(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail_with:
                    self.send_response(outer.fail_with)
                    self.end_headers()
                    return
                try:
                    event = verify(body, self.headers.get("Dialwise-Signature", ""), outer.secret)
                except SignatureError:
                    outer.refused += 1
                    self.send_response(400)
                    self.end_headers()
                    return
                outer.events[event["id"]] = outer.events.get(event["id"], 0) + 1
                outer.bodies[event["id"]] = event
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


# storage-facing: CI runs these again on PostgreSQL (tools/test.sh)
pytestmark = pytest.mark.db

@pytest.fixture(autouse=True)
def local_receivers_allowed(monkeypatch):
    """The receivers here listen on loopback, which webhooks may reach only when an operator allows it."""
    from agent.config import get_settings

    monkeypatch.setenv("WEBHOOK_ALLOW_NETWORKS", "127.0.0.0/8")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(params=backends())
def db_url(request, tmp_path):
    url = make_database_url(tmp_path, request.param)
    prepare_database(url)
    yield url
    drop_schema(url)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.down()


def subscribe(url: str, target: str, types: list[str]) -> str:
    with session_scope(url) as s:
        sub = create_subscription(s, target, types)
        return sub.id, sub.secret


EVENTS = [("call.started", {"call_id": "c1"}), ("call.completed", {"call_id": "c1", "outcome": "ptp"}),
          ("ptp.created", {"call_id": "c1", "amount": 500, "date": "2026-12-01"}),
          ("optout.created", {"phone": "+8613812345678"}), ("dispute.created", {"call_id": "c2"}),
          ("callback.requested", {"call_id": "c3", "at": "2026-12-01T10:00:00+08:00"}),
          ("transfer.requested", {"call_id": "c4"})]


def test_receiver_down_then_back_gets_every_event_once(db_url, receiver):
    sub_id, receiver.secret = subscribe(db_url, receiver.url, ["*"])
    ids = [add_event(db_url, t, p) for t, p in EVENTS * 3]
    clock = Clock()
    d = Dispatcher(db_url, public_base_url="http://dialwise.test", clock=clock, rng=random.Random(1),
                   policy=RetryPolicy(base_s=30, cap_s=3600, timeout_s=2))
    try:
        # down for ~2 hours of retries
        for _ in range(8):
            stats = d.run_once()
            assert stats.delivered == 0
            clock.advance(1000)
        with session_scope(db_url) as s:
            rows = s.query(WebhookDelivery).all()
            assert len(rows) == len(ids) and all(r.status == "pending" and r.attempts >= 3 for r in rows)
            assert all(r.last_error for r in rows)
        receiver.up()
        receiver.fail_with = 503  # back, but still unhealthy for one pass
        clock.advance(4000)
        d.run_once()
        receiver.fail_with = None
        for _ in range(20):
            clock.advance(4000)
            d.run_once()
            if len(receiver.events) == len(ids):
                break
    finally:
        d.stop()
    assert set(receiver.events) == set(ids)
    assert all(n == 1 for n in receiver.events.values())
    assert receiver.refused == 0
    completed = next(b for b in receiver.bodies.values() if b["type"] == "call.completed")
    assert completed["data"]["transcript_url"] == "http://dialwise.test/api/calls/c1"
    with session_scope(db_url) as s:
        assert {r.status for r in s.query(WebhookDelivery).all()} == {"delivered"}


def test_backoff_grows_with_jitter_and_retries_for_a_day_before_dead_letter(db_url, receiver):
    policy = RetryPolicy()
    rng = random.Random(7)
    delays = [policy.delay(n, rng) for n in range(1, 12)]
    assert all(0.7 * min(policy.cap_s, 30 * 2 ** (n - 1)) <= d <= min(policy.cap_s, 30 * 2 ** (n - 1))
               for n, d in enumerate(delays, 1))
    assert delays[5] > delays[0] * 10
    assert len({round(policy.delay(3), 6) for _ in range(20)}) > 1  # jitter

    sub_id, receiver.secret = subscribe(db_url, receiver.url, ["call.completed"])
    add_event(db_url, "call.started", {"call_id": "x"})  # not subscribed: no delivery
    event_id = add_event(db_url, "call.completed", {"call_id": "x"})
    clock = Clock()
    start = clock.now
    d = Dispatcher(db_url, clock=clock, policy=RetryPolicy(timeout_s=1), rng=random.Random(3))
    try:
        tries = 0
        while True:
            d.run_once()
            with session_scope(db_url) as s:
                row = s.query(WebhookDelivery).one()
                status, nxt, tries = row.status, row.next_attempt_at, row.attempts
            if status == "dead":
                break
            nxt = nxt if nxt.tzinfo else nxt.replace(tzinfo=UTC)
            clock.now = max(clock.now, nxt)
            assert tries < 60
        assert clock.now - start >= timedelta(hours=24)
        assert tries >= 10
        # the CRM is fixed; an operator re-sends the dead letter
        receiver.up()
        with session_scope(db_url) as s:
            redeliver(s, row.id, now=clock.now)
        d.run_once()
    finally:
        d.stop()
    assert receiver.events == {event_id: 1}


def test_two_dispatchers_share_the_queue_without_double_delivery(db_url, receiver):
    _, receiver.secret = subscribe(db_url, receiver.url, ["*"])
    receiver.up()
    ids = [add_event(db_url, "call.completed", {"call_id": f"c{i}"}) for i in range(30)]
    ds = [Dispatcher(db_url, batch=10, workers=2) for _ in range(2)]
    threads = [threading.Thread(target=d.run_forever, args=(0.05,)) for d in ds]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while len(receiver.events) < len(ids) and time.time() < deadline:
        time.sleep(0.1)
    for d in ds:
        d.stop()
    for t in threads:
        t.join(5)
    assert set(receiver.events) == set(ids)
    assert all(n == 1 for n in receiver.events.values())


def test_receiver_snippet_refuses_forged_stale_and_tampered():
    secret = "whsec_test"
    body = json.dumps({"id": "e1", "type": "ptp.created", "data": {}}).encode()
    now = time.time()
    good = signature_header(secret, body, int(now))
    assert verify(body, good, secret, now=now)["id"] == "e1"
    with pytest.raises(SignatureError, match="does not match"):
        verify(body, signature_header("whsec_other", body, int(now)), secret, now=now)
    with pytest.raises(SignatureError, match="does not match"):
        verify(body.replace(b"e1", b"e2"), good, secret, now=now)
    with pytest.raises(SignatureError, match="stale"):
        verify(body, signature_header(secret, body, int(now) - 3600), secret, now=now)
    with pytest.raises(SignatureError, match="does not match"):  # replaying a signature with a new t
        t_new = int(now)
        sig = good.split("v1=")[1]
        verify(body, f"t={t_new + 1},v1={sig}", secret, now=now)
    for header in ("", "t=abc,v1=00", "v1=00", f"t={int(now)}"):
        with pytest.raises(SignatureError):
            verify(body, header, secret, now=now)


def test_unknown_event_type_is_refused(db_url):
    from agent.server.problems import Problem

    with session_scope(db_url) as s, pytest.raises(Problem, match="unknown event type"):
        create_subscription(s, "http://127.0.0.1:9/x", ["call.exploded"])

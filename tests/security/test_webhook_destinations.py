"""Finding 2: webhook subscriptions and deliveries reach public addresses only (or an operator's
allow-list); the receiver's body never comes back; errors do not map ports."""
from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.server.destinations import DestinationRefused, check_destination, parse_networks, refusal
from agent.server.webhooks import Dispatcher, create_subscription
from agent.store.db import session_scope
from agent.store.models import WebhookDelivery
from tests.security.conftest import assert_problem, auth
from tests.server_helpers import add_event

pytestmark = pytest.mark.db

INTERNAL = [
    "http://127.0.0.1/hook", "http://127.0.0.1:8000/api/me", "http://localhost:8000/", "http://[::1]/",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://10.0.0.5/", "http://172.16.0.1/",
    "http://192.168.1.1/", "http://100.64.0.1/", "http://0.0.0.0/", "http://[::]/",
    "http://2130706433/",              # decimal
    "http://0x7f000001/",              # hex
    "http://0x7f.0.0.1/", "http://0177.0.0.1/", "http://127.1/", "http://127.0.1/",  # short and octal
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:169.254.169.254]/", "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",          # 6to4 around loopback
    "http://224.0.0.1/", "http://255.255.255.255/", "http://198.18.0.1/", "http://203.0.113.9/",
    " http://127.0.0.1/", "http://127.0.0.1 /", "http://93.184.215.14@127.0.0.1/", "http://evil\\@127.0.0.1/",
    "http://user:pw@93.184.215.14/", "http://127.0.0.1\t/", "http://127.0.0.1%2f/", "http://127。0。0。1/",
    "http://[fd00::1]/", "https://127.0.0.1:443/", "http://[::1]:22/",
]


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_destinations_are_refused_when_subscribing(env, url):
    c, key = env["client"], env["keys"]["crm"]
    r = c.post("/api/webhooks/subscriptions", json={"url": url, "event_types": ["*"]}, headers=auth(key))
    assert_problem(r, 422)


def test_a_public_address_is_accepted_and_the_allow_list_opens_an_on_premises_network(env, monkeypatch):
    from agent.config import get_settings

    c, key = env["client"], env["keys"]["crm"]
    ok = c.post("/api/webhooks/subscriptions", json={"url": "https://93.184.215.14/hook", "event_types": ["*"]},
                headers=auth(key))
    assert ok.status_code == 201, ok.text
    onprem = {"url": "http://10.1.2.3:8080/crm", "event_types": ["*"]}
    assert c.post("/api/webhooks/subscriptions", json=onprem, headers=auth(key)).status_code == 422
    monkeypatch.setenv("WEBHOOK_ALLOW_NETWORKS", "10.1.0.0/16,192.168.5.0/24")
    get_settings.cache_clear()
    try:
        assert c.post("/api/webhooks/subscriptions", json=onprem, headers=auth(key)).status_code == 201
        other = {"url": "http://10.2.0.1/crm", "event_types": ["*"]}  # outside the allowed network
        assert c.post("/api/webhooks/subscriptions", json=other, headers=auth(key)).status_code == 422
    finally:
        get_settings.cache_clear()


def test_address_rules():
    assert refusal(ipaddress.ip_address("8.8.8.8")) is None
    assert refusal(ipaddress.ip_address("2606:4700::1111")) is None
    assert "link-local" in refusal(ipaddress.ip_address("169.254.169.254"))
    assert refusal(ipaddress.ip_address("10.1.9.9"), parse_networks("10.1.0.0/16")) is None
    with pytest.raises(ValueError, match="not a network"):
        parse_networks("10.1.0.0/16,intranet")
    with pytest.raises(DestinationRefused, match="does not resolve"):
        check_destination("http://crm.example/", (), resolver=lambda h, p: (_ for _ in ()).throw(OSError()))
    # a name with one public and one internal answer is refused as a whole
    with pytest.raises(DestinationRefused):
        check_destination("http://crm.example/", (), resolver=lambda h, p: ["93.184.215.14", "127.0.0.1"])


class Receiver:
    """A real HTTP receiver on loopback that answers with a fixed status, body and headers."""

    def __init__(self, status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("content-length", 0))
                self.rfile.read(n)
                outer.requests.append({"host": self.headers.get("host"), "path": self.path})
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


LOOPBACK = parse_networks("127.0.0.0/8")


def _deliver(url: str, target: str, *, allow=LOOPBACK, resolver=None) -> WebhookDelivery:
    with session_scope(url) as s:
        sub_id = create_subscription(s, target, ["*"], allow_networks=allow,
                                     resolver=resolver or (lambda h, p: ["127.0.0.1"])).id
    add_event(url, "call.completed", {"call_id": "c1"})
    d = Dispatcher(url, allow_networks=allow, resolver=resolver or (lambda h, p: ["127.0.0.1"]))
    try:
        d.run_once()
    finally:
        d.stop()
    with session_scope(url) as s:
        row = s.query(WebhookDelivery).filter_by(subscription_id=sub_id).one()
        s.expunge(row)
        return row


def test_the_receivers_body_never_comes_back(env):
    rec = Receiver(500, b"internal: db_password=hunter2 " * 20)
    try:
        row = _deliver(env["url"], f"http://127.0.0.1:{rec.port}/hook")
    finally:
        rec.close()
    assert row.last_status_code == 500 and "hunter2" not in (row.last_error or "")
    r = env["client"].get("/api/webhooks/deliveries", headers=auth(env["keys"]["crm"]))
    assert r.status_code == 200 and "hunter2" not in r.text and "500" in r.text


def test_a_redirect_into_private_space_is_not_followed(env):
    target = Receiver(200)
    rec = Receiver(302, b"", {"Location": f"http://127.0.0.1:{target.port}/internal"})
    try:
        row = _deliver(env["url"], f"http://127.0.0.1:{rec.port}/hook")
    finally:
        rec.close()
        target.close()
    assert row.status == "pending" and row.last_status_code == 302 and "not followed" in row.last_error
    assert target.requests == []


def test_delivery_rechecks_the_name_and_connects_to_the_checked_address(env):
    rec = Receiver(204)
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])  # public when subscribing, loopback later (rebinding)
    try:
        row = _deliver(env["url"], f"http://crm.example:{rec.port}/hook", allow=(), resolver=lambda h, p: next(answers))
        assert row.status == "dead" and row.last_error.startswith("destination refused")
        assert rec.requests == []
        # allowed: the request goes to the address that was checked, the name rides in Host
        row = _deliver(env["url"], f"http://crm.example:{rec.port}/hook")
        assert row.status == "delivered"
        assert rec.requests[-1] == {"host": f"crm.example:{rec.port}", "path": "/hook"}
    finally:
        rec.close()


def test_a_stored_internal_destination_is_refused_at_delivery(env):
    from agent.store.models import WebhookSubscription

    rec = Receiver(200)
    with session_scope(env["url"]) as s:  # written before destinations were checked
        s.add(WebhookSubscription(url=f"http://127.0.0.1:{rec.port}/x", event_types={"types": ["*"]},
                                  secret="whsec_x", active=True))
    add_event(env["url"], "call.completed", {"call_id": "c1"})
    d = Dispatcher(env["url"], allow_networks=())
    try:
        d.run_once()
    finally:
        d.stop()
        rec.close()
    with session_scope(env["url"]) as s:
        row = s.query(WebhookDelivery).one()
        assert row.status == "dead" and row.last_error.startswith("destination refused")
    assert rec.requests == []


def test_errors_do_not_tell_a_closed_port_from_an_open_one(env):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    talker = socket.socket()  # open, but speaks no HTTP (like ssh or redis)
    talker.bind(("127.0.0.1", 0))
    talker.listen()

    def serve():
        conn, _ = talker.accept()
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        a = _deliver(env["url"], f"http://127.0.0.1:{closed_port}/")
        b = _deliver(env["url"], f"http://127.0.0.1:{talker.getsockname()[1]}/")
    finally:
        talker.close()
    assert a.last_error == b.last_error == "the receiver could not be reached"

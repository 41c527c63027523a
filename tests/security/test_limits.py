"""Smaller findings: LIKE wildcards, chunked bodies over the limit, the failed-key throttle, console
cookie and headers. Every refusal is a problem document."""
from __future__ import annotations

import http.client
import json

import pytest

from agent.server.headers import CONSOLE_CSP
from tests.security.conftest import assert_problem, auth

pytestmark = pytest.mark.db


def _account(name: str, phone: str) -> dict:
    return {"name": name, "language": "en", "balance": 1, "currency": "USD", "phone": phone,
            "timezone": "America/New_York"}


def test_account_search_takes_percent_and_underscore_literally(env):
    c, key = env["client"], env["keys"]["supervisor"]
    for name, phone in (("100% Real", "(415) 555-0101"), ("Ann_Lee", "(415) 555-0102"),
                        ("AnnxLee", "(415) 555-0103"), ("Back\\slash", "(415) 555-0104")):
        assert c.post("/api/accounts", json=_account(name, phone), headers=auth(key)).status_code == 201

    def names(q: str) -> set[str]:
        r = c.get("/api/accounts", params={"q": q}, headers=auth(key))
        assert r.status_code == 200
        return {a["name"] for a in r.json()["items"]}

    assert names("%") == {"100% Real"}
    assert names("_") == {"Ann_Lee"}
    assert names("Ann_") == {"Ann_Lee"}
    assert names("\\") == {"Back\\slash"}
    assert names("Ann") == {"Ann_Lee", "AnnxLee"}


def _chunked_post(port: int, path: str, size: int, key: str) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = (b'{"name": "' + b"x" * size + b'"}')

    def chunks():
        for i in range(0, len(body), 64 * 1024):
            yield body[i:i + 64 * 1024]

    conn.request("POST", path, body=chunks(), encode_chunked=True,
                 headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked", **auth(key)})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), data


def test_a_chunked_json_body_over_one_mib_is_413_on_a_real_server(server):
    status, headers, data = _chunked_post(server.port, "/api/accounts", 2 * 1024 * 1024, server.keys["admin"])
    assert status == 413 and json.loads(data)["status"] == 413
    status, _, data = _chunked_post(server.port, "/api/accounts", 1000, server.keys["admin"])
    assert status == 422  # under the limit: the handler sees the whole body (and finds fields missing)


def test_a_chunked_body_over_the_limit_in_process(env):
    c, key = env["client"], env["keys"]["admin"]
    r = c.post("/api/accounts", content=(b"x" * 1024 for _ in range(3 * 1024)),
               headers={"Content-Type": "application/json", **auth(key)})
    assert_problem(r, 413)  # 3 MiB in 1 KiB chunks, no Content-Length


def test_failed_keys_are_throttled_with_retry_after(env):
    from agent.config import get_settings

    c, key = env["client"], env["keys"]["crm"]
    limit = get_settings().auth_failures_per_minute
    for i in range(limit):
        assert c.get("/api/accounts", headers=auth(f"dw_{i:04x}_guess")).status_code == 401
    r = c.get("/api/accounts", headers=auth("dw_ffff_guess"))
    doc = assert_problem(r, 429)
    assert int(r.headers["Retry-After"]) >= 1 and "try again" in doc["detail"]
    # the console login and the websocket are throttled the same way
    assert_problem(c.post("/console/session", json={"key": "dw_ffff_guess"}), 429)
    assert c.get("/api/accounts", headers=auth(key)).status_code == 429  # the client waits, whatever it sends
    assert c.get("/api/accounts").status_code == 401  # no key at all: a plain 401 (not a guess)


def test_a_wrong_key_and_no_key_are_problem_documents(env):
    c = env["client"]
    for headers in ({}, auth("dw_x_y"), {"Authorization": "Basic Zm9vOmJhcg=="}, auth("x" * 500)):
        assert_problem(c.get("/api/calls", headers=headers), 401)


def test_console_pages_send_csp_and_frame_options(env):
    c = env["client"]
    for path in ("/console/", "/console/call.html", "/console/live.html", "/console/console.js"):
        r = c.get(path)
        assert r.status_code == 200
        assert r.headers["content-security-policy"] == CONSOLE_CSP
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in CONSOLE_CSP and "unsafe-inline" not in CONSOLE_CSP
    assert c.get("/api/webhooks/event-types").headers["x-content-type-options"] == "nosniff"


def test_console_cookie_is_secure_behind_https(env):
    c, key, app = env["client"], env["keys"]["supervisor"], env["app"]
    r = c.post("/console/session", json={"key": key})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie  # plain http here
    app.state.public_base_url = "https://dialwise.example.com"  # TLS ends at a proxy
    r = c.post("/console/session", json={"key": key})
    assert "secure" in r.headers["set-cookie"].lower()
    r = c.post("/console/session", json={"key": key}, headers={"X-Forwarded-Proto": "http"})
    assert "secure" in r.headers["set-cookie"].lower()

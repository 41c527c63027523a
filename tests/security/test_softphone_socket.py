"""The softphone's websocket checks its key at the handshake, before it accepts, as /ws/live does: without
a key that may write, the client gets HTTP 403 and no socket is held open. The key is read by the app's one
reader (`agent.server.auth.key_from`), so the console's cookie and a Bearer key both open it. A real uvicorn
server and a real websocket client; the in-process client shows the close codes."""
from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import InvalidStatus

from agent.server.auth import COOKIE_NAME
from tests.security.conftest import auth

pytestmark = pytest.mark.db

START = {"type": "start", "account_id": "no-such-account", "script_id": "collections_m1_en_a"}


def _softphone(server, headers: dict[str, str]) -> int | dict:
    """Open /softphone/ws with these handshake headers and send a start for an unknown account: the
    server's answer (an error message, so the socket was accepted), or the HTTP status of the refusal."""

    async def run() -> int | dict:
        try:
            async with websockets.connect(f"ws://127.0.0.1:{server.port}/softphone/ws",
                                          additional_headers=headers, open_timeout=10) as ws:
                await ws.send(json.dumps(START))
                return json.loads(await asyncio.wait_for(ws.recv(), 10))
        except InvalidStatus as exc:
            return exc.response.status_code

    return asyncio.run(run())


def test_the_softphone_refuses_a_socket_without_a_writing_key_at_the_handshake(server):
    refused = {
        "no key": {},
        "forged Bearer key": auth("dw_0000_forged"),
        "forged console cookie": {"Cookie": f"{COOKIE_NAME}=dw_abcd_nope"},
        "not a Bearer header": {"Authorization": f"Basic {server.keys['supervisor']}"},
        "a key that may not write (crm)": auth(server.keys["crm"]),
    }
    for why, headers in refused.items():
        assert _softphone(server, headers) == 403, why
    # the refusals were answered, not held: the server still takes a good key at once
    answer = _softphone(server, auth(server.keys["supervisor"]))
    assert isinstance(answer, dict) and answer["type"] == "error", answer


def test_the_console_cookie_and_a_bearer_key_open_the_softphone_alike(server):
    key = server.keys["supervisor"]
    login = httpx.post(server.base + "/console/session", json={"key": key}, timeout=10)
    assert login.status_code == 200, login.text
    cookie = login.cookies[COOKIE_NAME]
    assert cookie == key and "httponly" in login.headers["set-cookie"].lower()

    for how, headers in (("console cookie", {"Cookie": f"{COOKIE_NAME}={cookie}"}), ("Bearer key", auth(key))):
        answer = _softphone(server, headers)
        # accepted, and the start reached the route: it refuses the unknown account, not the key
        assert isinstance(answer, dict) and answer["type"] == "error", (how, answer)
        assert "key" not in answer["message"].lower(), (how, answer)
        options = httpx.get(server.base + "/softphone/options", headers=headers, timeout=10)
        assert options.status_code == 200 and "accounts" in options.json(), (how, options.text[:200])
    assert httpx.get(server.base + "/softphone/options", timeout=10).status_code == 401


@pytest.mark.parametrize("scope, headers, code", [
    (None, {}, 4401),
    (None, {"Authorization": "Bearer dw_0000_forged"}, 4401),
    ("crm", None, 4403),  # the softphone reads the settings' database: settings_env points it at this one
])
def test_the_softphone_closes_before_accept_in_process(settings_env, env, scope, headers, code):
    if scope is not None:
        headers = auth(env["keys"][scope])
    with pytest.raises(WebSocketDisconnect) as exc:
        with env["client"].websocket_connect("/softphone/ws", headers=headers) as ws:
            ws.receive_text()
    assert exc.value.code in (code, 1008), exc.value.code  # 1008 when the socket gate refuses a forged key first

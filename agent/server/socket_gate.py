"""Websocket handshakes are checked before any route accepts them.

A handshake with an API key (the console cookie or `Authorization: Bearer`) has the key checked here,
under the failed-key throttle: a wrong key is refused at once (HTTP 403), never held open. A handshake
without one (the softphone's key comes in its first message; Twilio signs its own) is anonymous:
only a few such sockets may be open per client and in all, so nobody can pile up idle sockets.
"""
from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

from starlette.concurrency import run_in_threadpool

from agent.server.auth import COOKIE_NAME, lookup
from agent.server.auth_throttle import failure_throttle

ANONYMOUS_PER_CLIENT = 4
ANONYMOUS_TOTAL = 32


def _key_of(headers: dict[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    raw = headers.get("cookie")
    if not raw:
        return None
    try:
        cookie = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = cookie.get(COOKIE_NAME)
    return morsel.value if morsel else None


class SocketGate:
    def __init__(self, app, per_client: int = ANONYMOUS_PER_CLIENT, total: int = ANONYMOUS_TOTAL) -> None:
        self.app = app
        self.per_client = per_client
        self.total = total
        self.anonymous: dict[str, int] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        client = (scope.get("client") or ("?", 0))[0]
        app = scope.get("app")
        key = _key_of(headers)
        if key is not None:
            throttle = failure_throttle(app)
            if throttle.blocked(client) or not await run_in_threadpool(self._known, app, key):
                if not throttle.blocked(client):
                    throttle.failed(client)
                return await self._refuse(receive, send)
            return await self.app(scope, receive, send)
        if self._signed_by_twilio(headers):  # the route checks the signature before it accepts
            return await self.app(scope, receive, send)
        total = sum(self.anonymous.values())
        if self.anonymous.get(client, 0) >= self.per_client or total >= self.total:
            return await self._refuse(receive, send)
        self.anonymous[client] = self.anonymous.get(client, 0) + 1
        try:
            return await self.app(scope, receive, send)
        finally:
            left = self.anonymous.get(client, 1) - 1
            if left > 0:
                self.anonymous[client] = left
            else:
                self.anonymous.pop(client, None)

    @staticmethod
    def _known(app, key: str) -> bool:
        from agent.store.db import session_scope

        with session_scope(app.state.db_url) as s:
            return lookup(s, key) is not None

    @staticmethod
    def _signed_by_twilio(headers: dict[str, str]) -> bool:
        from agent.config import get_settings

        return bool(headers.get("x-twilio-signature")) and bool(get_settings().twilio_auth_token)

    @staticmethod
    async def _refuse(receive, send) -> None:
        message = await receive()  # websocket.connect
        if message.get("type") == "websocket.connect":
            await send({"type": "websocket.close", "code": 1008})

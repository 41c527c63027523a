"""Websocket handshakes are checked before any route accepts them.

A handshake with an API key (the console cookie or `Authorization: Bearer`, read by `auth.key_from`) has
the key checked here, under the failed-key throttle: a wrong key is refused at once (HTTP 403), never held
open. A handshake without one (Twilio signs its own) is anonymous: only a few such sockets may be open per
client and in all, so nobody can pile up idle sockets.

The routes that need a key (`/ws/live`, `/ws/listen`, `/softphone/ws`) then ask `socket_principal` for
the key's principal and its permission, still before they accept: a socket without a fitting key is
closed at the handshake (HTTP 403), not accepted and then told.
"""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from agent.server.auth import Principal, key_from, lookup
from agent.server.auth_throttle import failure_throttle
from agent.server.problems import Problem

ANONYMOUS_PER_CLIENT = 4
ANONYMOUS_TOTAL = 32


def _lookup(db_url: str | None, key: str) -> Principal | None:
    from agent.store.db import session_scope

    with session_scope(db_url) as s:
        return lookup(s, key)


async def socket_principal(ws: WebSocket, db_url: str | None, permission: str, reason: str) -> Principal | None:
    """The principal of a websocket handshake's key, checked before the route accepts; or None once the
    handshake is refused (closed before accept: HTTP 403 to the client). Close codes (seen by in-process
    test clients): 4429 this client failed too many key checks, 4401 no key or an unknown or revoked one
    (counted as a failure), 4403 the key may not `permission` (`reason` says why)."""
    client = ws.client.host if ws.client else "?"
    throttle = failure_throttle(ws.app)
    if throttle.blocked(client):
        await ws.close(code=4429, reason="too many failed attempts; try again later")
        return None
    try:
        key = key_from(ws)
    except Problem:  # an Authorization header that is not a Bearer key
        key = None
    principal = await run_in_threadpool(_lookup, db_url, key) if key else None
    if principal is None:
        if key:
            throttle.failed(client)
        await ws.close(code=4401, reason="an API key is required")
        return None
    if not principal.can(permission):
        await ws.close(code=4403, reason=reason)
        return None
    return principal


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
        try:
            key = key_from(HTTPConnection(scope))
        except Problem:  # an Authorization header that is not a Bearer key
            return await self._refuse(receive, send)
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
        return _lookup(app.state.db_url, key) is not None

    @staticmethod
    def _signed_by_twilio(headers: dict[str, str]) -> bool:
        from agent.config import get_settings

        return bool(headers.get("x-twilio-signature")) and bool(get_settings().twilio_auth_token)

    @staticmethod
    async def _refuse(receive, send) -> None:
        message = await receive()  # websocket.connect
        if message.get("type") == "websocket.connect":
            await send({"type": "websocket.close", "code": 1008})

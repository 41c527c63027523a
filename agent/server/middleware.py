"""ASGI middleware: body size limits, content-type checks, and masked access logs."""
from __future__ import annotations

import json
import logging
import time

from agent.server.masking import mask_target

log = logging.getLogger("dialwise.server.access")

MAX_BODY = 1 * 1024 * 1024  # 1 MiB for JSON
MAX_UPLOAD = 20 * 1024 * 1024  # CSV imports
# path -> content types accepted (besides application/json)
_BODY_TYPES = {
    "/api/accounts/import": ("text/csv", "text/plain", "application/csv"),
    "/console/session": ("application/x-www-form-urlencoded",),
}
_TWILIO_PREFIXES = ("/twilio/", "/softphone")


def _problem(status: int, title: str, detail: str, path: str) -> tuple[dict, bytes]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail,
                       "instance": path}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/problem+json"),
                         (b"content-length", str(len(body)).encode())]}
    return start, body


async def _read_body(receive, limit: int) -> tuple[bytes, bool]:
    """The whole request body, or (what was read, True) as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    n = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False  # the client went away; the app will see the disconnect
        chunk = message.get("body", b"")
        n += len(chunk)
        if n > limit:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive):
    sent = {"done": False}

    async def replayed():
        if not sent["done"]:
            sent["done"] = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # afterwards: the real channel (disconnects)

    return replayed


class GuardMiddleware:
    """Refuses oversized bodies (413) and unexpected content types (415) before any handler runs."""

    def __init__(self, app, max_body: int = MAX_BODY, max_upload: int = MAX_UPLOAD) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        started = time.perf_counter()
        status_holder = {"code": 0}

        async def send_logged(message):
            if message["type"] == "http.response.start":
                status_holder["code"] = message["status"]
            await send(message)

        async def reply(status: int, title: str, detail: str) -> None:
            start, body = _problem(status, title, detail, path)
            await send_logged(start)
            await send_logged({"type": "http.response.body", "body": body})

        try:
            telephony = path.startswith(_TWILIO_PREFIXES)
            limit = self.max_upload if path in _BODY_TYPES and "text/csv" in _BODY_TYPES[path] else self.max_body
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                length = headers.get("content-length")
                chunked = "chunked" in headers.get("transfer-encoding", "")
                if length is not None:
                    try:
                        n = int(length)
                    except ValueError:
                        return await reply(400, "Bad request", "Content-Length is not a number")
                    if n > limit:
                        return await reply(413, "Content too large",
                                           f"the body is {n} bytes; the limit here is {limit} bytes")
                has_body = chunked or (length is not None and int(length) > 0)
                ctype = headers.get("content-type", "").split(";")[0].strip().lower()
                if has_body and not telephony:  # provider webhooks (Twilio) post forms; they check their own
                    allowed = ("application/json",) + _BODY_TYPES.get(path, ())
                    if ctype not in allowed and not ctype.endswith("+json"):
                        return await reply(415, "Unsupported media type",
                                           f"send {' or '.join(allowed)}, not {ctype or 'no Content-Type'}")
                if has_body:  # read it all here (within the limit), so a chunked body over it is a 413
                    body, too_large = await _read_body(receive, limit)
                    if too_large:
                        return await reply(413, "Content too large", f"the limit here is {limit} bytes")
                    return await self.app(scope, _replay(body, receive), send_logged)
            return await self.app(scope, receive, send_logged)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            query = scope.get("query_string", b"").decode("latin-1")
            raw_path = scope.get("raw_path") or path.encode("utf-8")
            target = raw_path.decode("latin-1") + ("?" + query if query else "")
            log.info("%s %s %s %.1fms", method, mask_target(target), status_holder["code"], elapsed)
            metrics = getattr(scope.get("app"), "state", None)
            m = getattr(metrics, "metrics", None) if metrics is not None else None
            if m is not None and status_holder["code"]:
                m.http_requests.labels(code=f"{status_holder['code'] // 100}xx").inc()

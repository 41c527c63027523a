"""Verify a dialwise webhook in your CRM. Standard library only: copy this file as it is.

    from webhook_receiver import verify, SignatureError
    try:
        event = verify(raw_body, request.headers["Dialwise-Signature"], secret)
    except SignatureError:
        return 400
    if already_seen(event["id"]):   # deliveries are at-least-once: dedupe on the event id
        return 200
    handle(event); return 200
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """The request is not a genuine, fresh dialwise webhook."""


def parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("the t= timestamp is not a number") from None
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("the signature header needs t=<timestamp> and v1=<signature>")
    return timestamp, signatures


def verify(body: bytes, header: str, secret: str, tolerance_s: int = DEFAULT_TOLERANCE_S,
           now: float | None = None) -> dict[str, Any]:
    """Return the event if the signature matches and is fresh; raise SignatureError otherwise."""
    timestamp, signatures = parse_header(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError(f"the signature is stale ({int(current - timestamp)} s old)")
    expected = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body,
                        hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, sig) for sig in signatures):
        raise SignatureError("the signature does not match the body")
    return json.loads(body)

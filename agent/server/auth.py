"""API keys with scopes, stored hashed; sent as `Authorization: Bearer <key>` (or the console cookie).

A key looks like `dw_<prefix>_<secret>`. Only sha256(key) is stored: keys are 256-bit random, so a
slow password hash adds nothing. Scopes are ordered: admin > supervisor; crm is separate.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from agent.server.problems import Problem
from agent.store.models import ApiKey, utcnow

SCOPES = ("admin", "supervisor", "crm")
COOKIE_NAME = "dialwise_key"

# what each scope may do (docs/security.md): `personal` is reading names, phones, ID digits and
# recordings in clear; a crm key reads everything else with those masked
_ALLOWED: dict[str, set[str]] = {
    "admin": {"read", "write", "admin", "crm", "personal"},
    "supervisor": {"read", "write", "personal"},
    "crm": {"read", "crm"},
}


@dataclass(frozen=True)
class Principal:
    key_id: str
    scope: str
    label: str | None

    def can(self, permission: str) -> bool:
        return permission in _ALLOWED.get(self.scope, set())


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(session: Session, scope: str, label: str | None = None) -> tuple[str, ApiKey]:
    """Make a new key; the plain key is returned once and never stored."""
    if scope not in SCOPES:
        from agent.errors import UserError

        raise UserError(f"unknown scope {scope!r}; use one of: {', '.join(SCOPES)}")
    prefix = secrets.token_hex(4)
    key = f"dw_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(prefix=prefix, key_hash=hash_key(key), scope=scope, label=label)
    session.add(row)
    session.flush()
    return key, row


def revoke_key(session: Session, key_id: str, when: datetime | None = None) -> bool:
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = when or utcnow()
    return True


def lookup(session: Session, key: str) -> Principal | None:
    if not key or not key.startswith("dw_") or len(key) > 200:
        return None
    parts = key.split("_", 2)
    if len(parts) != 3:
        return None
    digest = hash_key(key)
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == parts[1])).all()
    for r in row:
        if hmac.compare_digest(r.key_hash, digest) and r.revoked_at is None:
            return Principal(key_id=r.id, scope=r.scope, label=r.label)
    return None


def key_from(conn: HTTPConnection) -> str | None:
    """The API key a request or a websocket handshake carries, the one reader for both: the
    `Authorization: Bearer <key>` header, else the console's cookie. Never a query parameter (URLs end up
    in access logs). An Authorization header that is not a Bearer key is a 401, not a fall-back to the
    cookie."""
    header = conn.headers.get("authorization", "")
    if header:
        kind, _, value = header.partition(" ")
        if kind.lower() != "bearer" or not value.strip():
            raise Problem(401, "the Authorization header must be 'Bearer <api key>'",
                          headers={"WWW-Authenticate": "Bearer"})
        return value.strip()
    return conn.cookies.get(COOKIE_NAME) or None


def too_many_failures(request: Request) -> None:
    """429 with Retry-After when this client has failed too many key checks in the last minute."""
    from agent.server.auth_throttle import client_of, failure_throttle

    wait = failure_throttle(request.app).retry_after(client_of(request))
    if wait:
        raise Problem(429, f"too many failed API key checks from this client; try again in {wait} s",
                      headers={"Retry-After": str(wait)})


def check_key(session: Session, request: Request, key: str) -> Principal | None:
    """Look a key up under the failure throttle: a wrong key counts against the client."""
    from agent.server.auth_throttle import client_of, failure_throttle

    too_many_failures(request)
    principal = lookup(session, key)
    if principal is None:
        failure_throttle(request.app).failed(client_of(request))
    return principal


def authenticate(session: Session, request: Request) -> Principal:
    key = key_from(request)
    if not key:
        raise Problem(401, "an API key is required: send 'Authorization: Bearer <key>' "
                      "(create one with `dialwise keys create --scope admin`)",
                      headers={"WWW-Authenticate": "Bearer"})
    principal = check_key(session, request, key)
    if principal is None:
        raise Problem(401, "this API key is unknown or revoked; create a new one with "
                      "`dialwise keys create`", headers={"WWW-Authenticate": "Bearer"})
    return principal

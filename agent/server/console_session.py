"""The console's sign-in: the API key goes into an HttpOnly, SameSite=Strict cookie, Secure behind https."""
from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from agent.server.auth import COOKIE_NAME, check_key
from agent.server.problems import Problem

SESSION_S = 12 * 3600


def served_over_https(request: Request) -> bool:
    """The request came over https, or the server's public address is https (TLS ends at a proxy)."""
    base = str(getattr(request.app.state, "public_base_url", "") or "")
    return request.url.scheme in ("https", "wss") or base.lower().startswith("https://")


def login(request: Request, db: Session, key: str) -> JSONResponse:
    key = key.strip()
    principal = check_key(db, request, key)
    if principal is None:
        raise Problem(401, "this API key is unknown or revoked")
    resp = JSONResponse({"scope": principal.scope})
    resp.set_cookie(COOKIE_NAME, key, httponly=True, samesite="strict", max_age=SESSION_S, path="/",
                    secure=served_over_https(request))
    return resp


def logout(request: Request) -> Response:
    resp = Response(status_code=204)
    resp.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict",
                       secure=served_over_https(request))
    return resp

"""Request-scoped dependencies: a database session per request and scope checks."""
from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from agent.server.auth import Principal, authenticate
from agent.server.problems import Problem
from agent.store.db import session_scope


def get_db(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.db_url) as session:
        yield session


# The session commits when the route function returns, before the response is sent (scope "function"): a
# client told 201 can read what it created at once, and a failed commit is an error, never a false 201.
# (FastAPI's default scope ends a yield dependency after the response: a quick follow-up request could
# arrive before the commit and get 404.)
DB_SESSION = Depends(get_db, scope="function")


def require(permission: str) -> Callable[..., Principal]:
    def _dep(request: Request, db: Session = DB_SESSION) -> Principal:
        principal = authenticate(db, request)
        if not principal.can(permission):
            raise Problem(403, f"a key with scope '{principal.scope}' may not do this "
                          f"(needs '{permission}' permission)")
        request.state.principal = principal
        return principal

    return _dep


READ = Depends(require("read"))
WRITE = Depends(require("write"))
ADMIN = Depends(require("admin"))
CRM = Depends(require("crm"))
PERSONAL = Depends(require("personal"))

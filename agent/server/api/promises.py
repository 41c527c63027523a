"""Promises to pay: list by status, one promise, and the sweep that marks broken ones."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent.lifecycle.promises import promise_dict, sweep
from agent.server.api.common import PageParams, paginate
from agent.server.api.deps import DB_SESSION, READ, WRITE
from agent.server.problems import Problem
from agent.store.lifecycle_models import PROMISE_STATUSES, Promise

router = APIRouter(prefix="/api/promises", tags=["promises"])
_STATUS = "^(" + "|".join(PROMISE_STATUSES) + ")$"


@router.get("", dependencies=[READ], summary="Promises to pay, by status (pending, kept, partially_kept, "
            "broken, cancelled), soonest due first")
def list_promises(page: PageParams = Depends(), db: Session = DB_SESSION,
                  status: str | None = Query(None, pattern=_STATUS),
                  account_id: str | None = Query(None, max_length=32)) -> dict[str, Any]:
    stmt = select(Promise).order_by(Promise.due_date, Promise.id)
    if status:
        stmt = stmt.where(Promise.status == status)
    if account_id:
        stmt = stmt.where(Promise.account_id == account_id)
    out = paginate(db, stmt, page, promise_dict)
    counts = dict(db.execute(select(Promise.status, func.count()).group_by(Promise.status)).all())
    out["counts"] = {k: int(counts.get(k, 0)) for k in PROMISE_STATUSES}
    return out


@router.get("/{promise_id}", dependencies=[READ], summary="One promise")
def get_promise(promise_id: str, db: Session = DB_SESSION) -> dict[str, Any]:
    row = db.get(Promise, promise_id)
    if row is None:
        raise Problem(404, f"no promise with id {promise_id!r}")
    return promise_dict(row)


@router.post("/sweep", dependencies=[WRITE], summary="Mark promises whose grace days have passed unpaid "
             "as broken now (the daily sweep; idempotent)")
def run_sweep(db: Session = DB_SESSION) -> dict[str, Any]:
    changes = sweep(db)
    return {"changed": changes, "count": len(changes)}

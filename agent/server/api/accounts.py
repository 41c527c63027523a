"""Accounts: create one, import a CSV portfolio, list and get."""
from __future__ import annotations

import dataclasses
import io
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import iterate_in_threadpool

from agent.server.api.common import PageParams, contains_pattern, normalize_phone, paginate
from agent.server.api.deps import DB_SESSION, PERSONAL, READ, WRITE
from agent.server.api.personal import account_view, may_read_personal
from agent.server.api.schemas import AccountIn, AccountOut, Created, Page
from agent.server.problems import Problem
from agent.store.models import Account

router = APIRouter(prefix="/api/accounts", tags=["accounts"])

MAX_IMPORT_BYTES = 20 * 1024 * 1024


@router.post("", status_code=201, response_model=Created, dependencies=[WRITE],
             summary="Create one account")
def create_account(body: AccountIn, db: Session = DB_SESSION) -> Created:
    phone = normalize_phone(body.phone, body.language)
    if body.external_id and db.scalar(select(Account.id).where(Account.external_id == body.external_id)):
        raise Problem(409, f"an account with external_id {body.external_id!r} already exists")
    data = body.model_dump()
    data["phone"] = phone
    data["jurisdiction"] = body.jurisdiction or ("CN" if phone.startswith("+86") else "US")
    acc = Account(**data)
    db.add(acc)
    db.flush()
    return Created(id=acc.id)


@router.get("", response_model=Page[AccountOut], dependencies=[READ],
            summary="List accounts (names, phones and ID digits masked for keys without personal-data access)")
def list_accounts(request: Request, page: PageParams = Depends(), db: Session = DB_SESSION,
                  language: str | None = Query(None, pattern="^(zh|en)$"),
                  q: str | None = Query(None, max_length=100, description="name or phone contains"),
                  ) -> dict[str, Any]:
    stmt = select(Account).order_by(Account.created_at.desc(), Account.id)
    if language:
        stmt = stmt.where(Account.language == language)
    if q:
        if not may_read_personal(request):  # a search by name or phone would reveal them one guess at a time
            raise Problem(403, "searching accounts by name or phone needs a key that may read personal data "
                          "(admin or supervisor)")
        like = contains_pattern(q)
        stmt = stmt.where(or_(Account.name.ilike(like, escape="\\"), Account.phone.ilike(like, escape="\\")))
    personal = may_read_personal(request)
    return paginate(db, stmt, page, lambda acc: _account_out(acc, personal))


def _account_out(acc: Account, personal: bool) -> dict[str, Any]:
    return account_view(AccountOut.model_validate(acc).model_dump(), personal)


@router.get("/export", dependencies=[PERSONAL], response_class=StreamingResponse,
            summary="Every account as CSV (the import's columns; formula-like values neutralised)",
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
def export_accounts(request: Request) -> StreamingResponse:
    """Values that a spreadsheet would run as a formula (starting with = + - @) get a leading apostrophe."""
    from agent.campaign.exporter import export_lines

    return StreamingResponse(iterate_in_threadpool(export_lines(request.app.state.db_url)),
                             media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="accounts.csv"'})


@router.get("/{account_id}", response_model=AccountOut, dependencies=[READ], summary="Get one account")
def get_account(account_id: str, request: Request, db: Session = DB_SESSION) -> dict[str, Any]:
    acc = db.get(Account, account_id)
    if acc is None:
        raise Problem(404, f"no account with id {account_id!r}")
    return _account_out(acc, may_read_personal(request))


def _jsonable(result: Any) -> dict[str, Any]:
    if hasattr(result, "to_dict"):
        return result.to_dict()
    if hasattr(result, "model_dump"):
        return result.model_dump(mode="json")
    if dataclasses.is_dataclass(result):
        return dataclasses.asdict(result)
    if isinstance(result, dict):
        return result
    return {"result": str(result)}


@router.post("/import", dependencies=[WRITE], summary="Import accounts from CSV",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string"}}}}})
async def import_accounts(request: Request,
                          skip_bad: bool = Query(False, description="import good rows, report bad ones")
                          ) -> dict[str, Any]:
    """Send the CSV as the raw body with `Content-Type: text/csv` (columns: see `dialwise accounts import`)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("text/csv", "text/plain", "application/csv"):
        raise Problem(415, "send the CSV as the request body with Content-Type: text/csv")
    raw = await request.body()
    if not raw.strip():
        raise Problem(422, "the CSV body is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(422, "the CSV must be UTF-8 encoded") from None
    try:
        from agent.campaign.importer import import_csv
    except ImportError:
        raise Problem(503, "account import is not available in this build") from None
    from starlette.concurrency import run_in_threadpool

    from agent.errors import UserError

    try:
        result = await run_in_threadpool(import_csv, io.StringIO(text, newline=""), skip_bad=skip_bad,
                                         db_url=request.app.state.db_url)
    except UserError as exc:
        rejected = getattr(exc, "result", None)
        extra = {"result": _jsonable(rejected)} if rejected is not None else {}
        raise Problem(422, str(exc), **extra) from None
    return _jsonable(result)


"""CSV exports of the calls list (the same filters as GET /api/calls) and of the reviews, under the same
auth and masking as the API (a crm key gets names and phones masked and no review notes). Every cell goes
through the portfolio export's formula neutraliser (agent/campaign/exporter.py)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.concurrency import iterate_in_threadpool

from agent.campaign.exporter import spreadsheet_safe
from agent.server.api.call_search import CallFilters, page_stmt, row_out, where_clauses
from agent.server.api.calls import call_filters
from agent.server.api.deps import READ
from agent.server.api.personal import may_read_personal
from agent.server.masking import mask_name
from agent.server.review import scorecard
from agent.store.db import session_scope
from agent.store.models import Account, Call
from agent.store.review_models import CallReview

router = APIRouter(tags=["export"])
BATCH = 1000
CALL_COLUMNS = ("call_id", "started_at_utc", "started_at_callee", "callee_timezone", "account_external_id",
                "account_name", "account_phone", "language", "script_id", "campaign", "status", "outcome",
                "outcome_original", "duration_s", "promise_amount", "currency", "promise_date", "review_score",
                "review_tags")


def _line(values: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([spreadsheet_safe(v) for v in values])
    return buf.getvalue()


def _local(dt: datetime | None, zone: str | None) -> str:
    if dt is None:
        return ""
    try:
        return dt.astimezone(ZoneInfo(zone or "UTC")).isoformat(timespec="seconds")
    except (ValueError, KeyError):
        return ""


def call_lines(db_url: str, filters: CallFilters, personal: bool) -> Iterator[str]:
    yield "\ufeff" + _line(list(CALL_COLUMNS))  # a BOM: spreadsheets then read Chinese names right
    with session_scope(db_url) as db:
        where = where_clauses(filters, personal)
        offset = 0
        while True:
            rows = db.execute(page_stmt(db, where, filters.sort).limit(BATCH).offset(offset)).all()
            for r in rows:
                c = row_out(r, personal)
                started = c["started_at"]
                yield _line([c["id"], started.isoformat(timespec="seconds") if started else "",
                             _local(started, c["account_timezone"]), c["account_timezone"],
                             c["account_external_id"], c["account_name"], c["account_phone"], c["language"],
                             c["script_id"], c["campaign_name"], c["status"], c["outcome"], c["outcome_original"],
                             round(c["duration_ms"] / 1000, 1) if c["duration_ms"] is not None else "",
                             c["promise_amount"], c["currency"], c["promise_date"], c["review_score"],
                             " ".join(c["review_tags"] or [])])
            if len(rows) < BATCH:
                return
            offset += BATCH


def review_lines(db_url: str, personal: bool) -> Iterator[str]:
    with session_scope(db_url) as db:
        items = [i["id"] for i in scorecard(db)["items"]]
        yield "\ufeff" + _line(["call_id", "reviewed_at", "reviewed_by", "started_at_utc", "account_external_id",
                                "account_name", "outcome", "outcome_original", "score", "scorecard_version", "tags",
                                *[f"score.{i}" for i in items], "notes"])
        last = ""
        while True:
            rows = db.execute(select(CallReview, Call.started_at, Call.outcome, Account.external_id, Account.name)
                              .join(Call, Call.id == CallReview.call_id)
                              .join(Account, Account.id == Call.account_id, isouter=True)
                              .where(CallReview.call_id > last).order_by(CallReview.call_id).limit(BATCH)).all()
            for r, started, outcome, ext, name in rows:
                scores = r.scores or {}
                started_utc = started.replace(tzinfo=UTC) if started and not started.tzinfo else started
                yield _line([r.call_id, r.reviewed_at.isoformat(timespec="seconds") if r.reviewed_at else "",
                             r.reviewed_by, started_utc.isoformat(timespec="seconds") if started_utc else "", ext,
                             name if personal or name is None else mask_name(name), outcome, r.outcome_original,
                             r.score, r.scorecard_version, " ".join((r.tags or {}).get("items", [])),
                             *[scores.get(i, "") for i in items], r.notes if personal else ""])
            if len(rows) < BATCH:
                return
            last = rows[-1][0].call_id


def _csv(lines: Iterator[str], name: str) -> StreamingResponse:
    day = datetime.now(UTC).strftime("%Y%m%d")
    return StreamingResponse(iterate_in_threadpool(lines), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}-{day}.csv"'})


@router.get("/api/exports/calls.csv", dependencies=[READ], response_class=StreamingResponse,
            summary="The calls list as CSV (the filters of GET /api/calls; masked per scope)",
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
def export_calls(request: Request, filters: CallFilters = Depends(call_filters)) -> StreamingResponse:
    personal = may_read_personal(request)
    where_clauses(filters, personal)  # refuse bad filters (4xx) before the stream starts
    return _csv(call_lines(request.app.state.database_url, filters, personal), "calls")


@router.get("/api/exports/reviews.csv", dependencies=[READ], response_class=StreamingResponse,
            summary="Every review as CSV (scores per scorecard item; notes only for personal-data keys)",
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
def export_reviews(request: Request) -> StreamingResponse:
    return _csv(review_lines(request.app.state.database_url, may_read_personal(request)), "reviews")

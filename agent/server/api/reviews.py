"""Call review in the API: the scorecard, a call's review and its trail, the review queue (calls the
audit flagged, complaints and disputes, low-confidence understanding), and the vocabulary of codes."""
from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from agent.server import review as rv
from agent.server.api.call_search import (
    count_calls,
    exists_for_call,
    page_stmt,
    row_out,
)
from agent.server.api.common import PageParams
from agent.server.api.deps import ADMIN, DB_SESSION, READ, WRITE
from agent.server.api.personal import may_read_personal, principal_of
from agent.server.problems import Problem
from agent.server.vocab import labels
from agent.store.lifecycle_models import AuditFinding
from agent.store.models import Call, Turn
from agent.store.review_models import CallReview

router = APIRouter(tags=["review"])

LOW_CONFIDENCE = 0.5
COMPLAINT_OUTCOMES = ("dispute", "opted_out")
COMPLAINT_INTENTS = ("complaint", "scam_suspicion", "dispute_debt", "stop_calling")
TAG = r"^[\w\-]{1,32}$"


class ScorecardItem(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    en: str = Field(min_length=1, max_length=120)
    zh: str = Field(min_length=1, max_length=120)
    weight: float = Field(1, gt=0, le=100)
    max: int = Field(1, ge=1, le=10, description="1: yes/no; more: a scale 0..max")


class ScorecardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ScorecardItem] = Field(min_length=1, max_length=30)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notes: str | None = Field(None, max_length=10_000)
    tags: list[str] | None = Field(None, max_length=20)
    scores: dict[str, float] | None = Field(None, max_length=30, description="scorecard item id -> 0..max")
    outcome: str | None = Field(None, max_length=32, description="a corrected outcome (the original is kept)")
    version: int | None = Field(None, ge=0, description="the review version this change is based on (409 "
                                "if someone changed it meanwhile)")

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str] | None) -> list[str] | None:
        for t in tags or []:
            if not re.match(TAG, t):
                raise ValueError(f"{t[:40]!r} is not a tag (letters, digits, _ or -, at most 32)")
        return tags


@router.get("/api/vocab", summary="Every code the console shows (outcomes, statuses, rules, intents, tags, ...), "
            "with English and Chinese labels")
def vocab() -> dict[str, Any]:
    return labels()


@router.get("/api/scorecard", dependencies=[READ], summary="The QA scorecard in force")
def get_scorecard(db: Session = DB_SESSION) -> dict[str, Any]:
    return rv.scorecard(db)


@router.put("/api/scorecard", dependencies=[ADMIN], summary="Replace the QA scorecard (a new version)")
def put_scorecard(body: ScorecardIn, request: Request, db: Session = DB_SESSION) -> dict[str, Any]:
    return rv.save_scorecard(db, [i.model_dump() for i in body.items], principal_of(request))


def _call_or_404(db: Session, call_id: str) -> Call:
    call = db.get(Call, call_id)
    if call is None:
        raise Problem(404, f"no call with id {call_id!r}")
    return call


@router.get("/api/calls/{call_id}/review", dependencies=[READ], summary="A call's review and its trail")
def get_review(call_id: str, request: Request, db: Session = DB_SESSION) -> dict[str, Any]:
    _call_or_404(db, call_id)
    personal = may_read_personal(request)
    return {"review": rv.review_dict(db.get(CallReview, call_id), personal),
            "history": rv.history(db, call_id, personal), "scorecard": rv.scorecard(db)}


@router.put("/api/calls/{call_id}/review", dependencies=[WRITE],
            summary="Review a call: notes, tags, scores, an outcome correction (sends call.reviewed)",
            responses={409: {"description": "the call is not ended, or the review changed meanwhile"}})
def put_review(call_id: str, body: ReviewIn, request: Request, db: Session = DB_SESSION) -> dict[str, Any]:
    review = rv.save_review(db, call_id, principal_of(request), notes=body.notes, tags=body.tags,
                            scores=body.scores, outcome=body.outcome, version=body.version)
    return {"review": review, "history": rv.history(db, call_id)}


def _reasons() -> dict[str, ColumnElement[bool]]:
    return {
        "finding": exists_for_call(AuditFinding.call_id == Call.id),
        "complaint": or_(Call.outcome.in_(COMPLAINT_OUTCOMES),
                         exists_for_call(Turn.call_id == Call.id, Turn.intent.in_(COMPLAINT_INTENTS))),
        "low_confidence": exists_for_call(Turn.call_id == Call.id, Turn.speaker == "callee",
                                         Turn.confidence < LOW_CONFIDENCE),
    }


@router.get("/api/reviews/queue", dependencies=[READ], summary="Calls to review: audit findings, complaints "
            "and disputes, low-confidence understanding; unreviewed first by default")
def review_queue(request: Request, page: PageParams = Depends(), db: Session = DB_SESSION,
                 reason: str | None = Query(None, pattern="^(finding|complaint|low_confidence)$"),
                 state: str = Query("open", pattern="^(open|reviewed|all)$")) -> dict[str, Any]:
    reasons = _reasons()
    where: list[ColumnElement[bool]] = [Call.status == "ended",
                                        reasons[reason] if reason else or_(*reasons.values())]
    reviewed = exists_for_call(CallReview.call_id == Call.id)
    if state != "all":
        where.append(~reviewed if state == "open" else reviewed)
    total = count_calls(db, where)
    rows = db.execute(page_stmt(db, where, "-started_at").limit(page.limit).offset(page.offset)).all()
    personal = may_read_personal(request)
    items = [row_out(r, personal) for r in rows]
    ids = [i["id"] for i in items]
    why: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        for name, clause in reasons.items():
            for cid in db.scalars(select(Call.id).where(Call.id.in_(ids), clause)):
                why[cid].append(name)
        counts: dict[str, int] = {}
        found = select(AuditFinding.call_id, AuditFinding.rule).where(AuditFinding.call_id.in_(ids))
        for cid, _rule in db.execute(found):
            counts[cid] = counts.get(cid, 0) + 1
    for item in items:
        item["reasons"] = why[item["id"]]
        item["findings"] = counts.get(item["id"], 0) if ids else 0
    end = page.offset + len(items)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset,
            "next_offset": end if end < total else None}

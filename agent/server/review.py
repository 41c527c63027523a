"""Call review: notes, tags, QA scores against the scorecard in force, and outcome corrections, each
change kept in an append-only trail (who, when, from what, to what) and announced as `call.reviewed`.

A correction sets the call's `outcome` (so lists, filters and reports count the corrected one) and keeps
the agent's own in `outcome_original`; the `outcomes` row stays as the agent wrote it."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.server.auth import Principal
from agent.server.problems import Problem
from agent.server.vocab import DEFAULT_SCORECARD
from agent.store.models import Call, OutboxEvent, utcnow
from agent.store.review_models import CallReview, ReviewEvent, Scorecard
from dialogs.outcomes import CALL_OUTCOMES


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).isoformat()


def scorecard(db: Session) -> dict[str, Any]:
    """The scorecard in force: the newest saved version, else the built-in one (version 0)."""
    row = db.scalars(select(Scorecard).order_by(Scorecard.version.desc()).limit(1)).first()
    if row is None:
        return {"version": 0, "items": [dict(i) for i in DEFAULT_SCORECARD]}
    return {"version": row.version, "items": list(row.items.get("items", [])),
            "created_by": row.created_by, "created_at": _iso(row.created_at)}


def save_scorecard(db: Session, items: list[dict[str, Any]], by: Principal) -> dict[str, Any]:
    ids = [i["id"] for i in items]
    if len(set(ids)) != len(ids):
        raise Problem(422, "scorecard item ids must be unique", errors=[{"field": "items", "message": "duplicate id"}])
    version = scorecard(db)["version"] + 1
    db.add(Scorecard(version=version, items={"items": items}, created_by=by.label or by.key_id))
    db.flush()
    return scorecard(db)


def score_of(items: list[dict[str, Any]], scores: dict[str, float]) -> float | None:
    """0..100: the weighted share of each scored item's maximum (unscored items do not count)."""
    total = got = 0.0
    for item in items:
        if item["id"] in scores:
            weight = float(item.get("weight", 1))
            total += weight
            got += weight * float(scores[item["id"]]) / float(item.get("max", 1))
    return round(100.0 * got / total, 1) if total else None


def check_scores(items: list[dict[str, Any]], scores: dict[str, float]) -> None:
    known = {i["id"]: i for i in items}
    errors = []
    for key, value in scores.items():
        if key not in known:
            errors.append({"field": f"scores.{key}", "message": "not an item of the scorecard in force"})
        elif not 0 <= value <= float(known[key].get("max", 1)):
            errors.append({"field": f"scores.{key}", "message": f"must be between 0 and {known[key].get('max', 1)}"})
    if errors:
        raise Problem(422, "; ".join(f"'{e['field']}': {e['message']}" for e in errors), errors=errors)


def review_dict(r: CallReview | None, personal: bool = True) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"call_id": r.call_id, "notes": r.notes if personal else None, "notes_hidden": not personal,
            "tags": list((r.tags or {}).get("items", [])), "scores": dict(r.scores or {}), "score": r.score,
            "scorecard_version": r.scorecard_version, "outcome_original": r.outcome_original,
            "outcome_corrected": r.outcome_corrected, "version": r.version, "reviewed_by": r.reviewed_by,
            "reviewed_at": _iso(r.reviewed_at)}


def event_dict(e: ReviewEvent, personal: bool = True) -> dict[str, Any]:
    hide = e.field == "notes" and not personal
    return {"id": e.id, "field": e.field, "old": None if hide else (e.old or {}).get("value"),
            "new": None if hide else (e.new or {}).get("value"), "by": e.by_label or e.by_key,
            "at": _iso(e.at)}


def history(db: Session, call_id: str, personal: bool = True) -> list[dict[str, Any]]:
    rows = db.scalars(select(ReviewEvent).where(ReviewEvent.call_id == call_id).order_by(ReviewEvent.id)).all()
    return [event_dict(e, personal) for e in rows]


def save_review(db: Session, call_id: str, by: Principal, *, notes: str | None = None,
                tags: list[str] | None = None, scores: dict[str, float] | None = None,
                outcome: str | None = None, version: int | None = None) -> dict[str, Any]:
    """Apply the given fields (None: unchanged); 409 if `version` is not the review's current one."""
    call = db.scalar(select(Call).where(Call.id == call_id).with_for_update())
    if call is None:
        raise Problem(404, f"no call with id {call_id!r}")
    if call.status != "ended":
        raise Problem(409, f"call {call_id} is {call.status}; only ended calls are reviewed")
    review = db.get(CallReview, call_id)
    if version is not None and (review.version if review else 0) != version:
        raise Problem(409, f"the review changed meanwhile (now version {review.version if review else 0}); "
                      "reload it and apply your change again", current_version=review.version if review else 0)
    card = scorecard(db)
    if scores is not None:
        check_scores(card["items"], scores)
    if outcome is not None and outcome not in CALL_OUTCOMES:
        raise Problem(422, f"'outcome': unknown outcome {outcome!r}",
                      errors=[{"field": "outcome", "message": "unknown outcome"}])
    who = by.label or by.key_id
    fresh = review is None
    if review is None:
        review = CallReview(call_id=call_id, notes="", tags={"items": []}, scores={}, version=0, reviewed_by=who)
        db.add(review)
    changes: list[tuple[str, Any, Any]] = []
    if notes is not None and notes != review.notes:
        changes.append(("notes", review.notes, notes))
        review.notes = notes
    if tags is not None:
        new_tags = sorted(set(tags))
        old_tags = list((review.tags or {}).get("items", []))
        if new_tags != old_tags:
            changes.append(("tags", old_tags, new_tags))
            review.tags = {"items": new_tags}
    if scores is not None and scores != (review.scores or {}):
        changes.append(("scores", dict(review.scores or {}), dict(scores)))
        review.scores = dict(scores)
        review.score = score_of(card["items"], scores)
        review.scorecard_version = card["version"]
    if outcome is not None and outcome != call.outcome:
        changes.append(("outcome", call.outcome, outcome))
        if review.outcome_original is None:
            review.outcome_original = call.outcome
        call.outcome = outcome
        back = outcome == review.outcome_original
        review.outcome_corrected = None if back else outcome
        if back:
            review.outcome_original = None
    if not changes and not fresh:
        return review_dict(review) or {}
    now = utcnow()
    for field, old, new in changes:
        db.add(ReviewEvent(call_id=call_id, field=field, old={"value": old}, new={"value": new},
                           by_key=by.key_id, by_label=by.label, at=now))
    review.version += 1
    review.reviewed_by, review.reviewed_at = who, now
    db.flush()
    out = review_dict(review) or {}
    db.add(OutboxEvent(type="call.reviewed", payload={
        "call_id": call_id, "account_id": call.account_id, "outcome": call.outcome,
        "outcome_original": review.outcome_original, "score": review.score, "tags": out["tags"],
        "changed": [c[0] for c in changes], "reviewed_by": who, "version": review.version,
        "review_url": f"/api/calls/{call_id}/review"}))
    return out

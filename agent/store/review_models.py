"""Tables of call review (quality work): a review per call (notes, tags, QA scores, outcome correction),
its append-only trail, and the configurable QA scorecard.

Same declarative Base as agent/store/models.py (schema 0004_review). Timestamps are UTC.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agent.store.models import Base, utcnow


class CallReview(Base):
    """A supervisor's review of one call. `outcome_original` keeps what the agent decided when the
    outcome was corrected; the call's own `outcome` then holds the correction."""

    __tablename__ = "call_reviews"

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), primary_key=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"items": [...]}
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)  # item id -> value
    score: Mapped[float | None] = mapped_column()  # 0..100 against the scorecard
    scorecard_version: Mapped[int | None] = mapped_column(Integer)
    outcome_original: Mapped[str | None] = mapped_column(String(32))
    outcome_corrected: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    reviewed_by: Mapped[str] = mapped_column(String(200))  # key label or id
    reviewed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ReviewEvent(Base):
    """One change to a review, never updated or deleted: who changed what, when, from what to what."""

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    field: Mapped[str] = mapped_column(String(32))  # notes | tags | scores | outcome
    old: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"value": ...}
    new: Mapped[dict[str, Any]] = mapped_column(default=dict)
    by_key: Mapped[str] = mapped_column(String(32))
    by_label: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Scorecard(Base):
    """A version of the QA scorecard; the newest is in force. Reviews name the version they used."""

    __tablename__ = "scorecards"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    items: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"items": [{id, en, zh, weight}]}
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

"""Tables of the collections lifecycle: CRM events, promises to pay, call audits and their findings.

Same declarative Base as agent/store/models.py (schema 0004_lifecycle). Timestamps are UTC.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agent.store.models import Base, new_id, utcnow

EVENT_TYPES = ("payment", "payment_missed", "due_date_changed", "application_abandoned", "limit_raised")
PROMISE_STATUSES = ("pending", "kept", "partially_kept", "broken", "cancelled")


class CrmEvent(Base):
    """One event from the lender's CRM. `id` is the sender's idempotency key."""

    __tablename__ = "crm_events"
    __table_args__ = (Index("ix_crm_events_account_type_at", "account_id", "type", "at"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    account_external_id: Mapped[str] = mapped_column(String(128))
    amount: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(8))
    due_date: Mapped[date | None] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column()
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the canonical payload
    effect: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what applying it did (the answer)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Promise(Base):
    """A promise to pay, from a `ptp` outcome, followed until it is kept, broken or cancelled."""

    __tablename__ = "promises"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"), unique=True)
    amount: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(8))
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    paid_amount: Mapped[float] = mapped_column(Float, default=0.0)
    promised_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(String(200))  # why it was closed this way
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CallAudit(Base):
    """A call was audited (also when it raised no finding)."""

    __tablename__ = "call_audits"

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), primary_key=True)
    audited_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    findings: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)


class AuditFinding(Base):
    """One thing a call did against the rules, at one turn, with a stable rule id."""

    __tablename__ = "audit_findings"
    __table_args__ = (UniqueConstraint("call_id", "rule", "turn_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    turn_seq: Mapped[int | None] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(8), default="high")  # high | medium
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

"""Helpers shared by the routers: pagination and phone normalisation."""
from __future__ import annotations

from typing import Any

from fastapi import Query
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from agent.server.problems import Problem

MAX_LIMIT = 200


class PageParams:
    def __init__(self, limit: int = Query(50, ge=1, le=MAX_LIMIT, description="items per page"),
                 offset: int = Query(0, ge=0, le=10_000_000, description="items to skip")) -> None:
        self.limit = limit
        self.offset = offset


def paginate(session: Session, stmt: Select, page: PageParams, convert) -> dict[str, Any]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.scalars(stmt.limit(page.limit).offset(page.offset)).all()
    end = page.offset + len(rows)
    return {
        "items": [convert(r) for r in rows],
        "total": total,
        "limit": page.limit,
        "offset": page.offset,
        "next_offset": end if end < total else None,
    }


def contains_pattern(text: str) -> str:
    """A LIKE pattern for "contains `text`": % and _ in the text match only themselves (ESCAPE '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def normalize_phone(raw: str, language: str) -> str:
    import phonenumbers

    region = "CN" if language == "zh" else "US"
    try:
        num = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise Problem(422, f"'phone': {raw!r} is not a phone number; use E.164 such as +8613812345678",
                      errors=[{"field": "phone", "message": "not a phone number"}]) from None
    if not phonenumbers.is_valid_number(num):
        raise Problem(422, f"'phone': {raw!r} is not a valid number for its country; "
                      "use E.164 such as +8613812345678 or +14155550123",
                      errors=[{"field": "phone", "message": "not a valid number"}])
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)

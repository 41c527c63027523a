"""The calls list's query: filters, the find box (phone in any formatting, name, account external id, call
id), transcript search, sorting, and each row with its account, campaign, promise and review.

The count and the page are two queries: the count joins nothing (filters on the account go through an
`IN` on the account ids), so 100,000 calls count in a few milliseconds (`dialwise bench console`)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from agent.server.api.common import contains_pattern
from agent.server.masking import mask_name, mask_phone
from agent.server.problems import Problem
from agent.store.models import Account, Call, Campaign, Outcome, Turn
from agent.store.review_models import CallReview
from dialogs.outcomes import CALL_OUTCOMES

SORT_KEYS = ("started_at", "duration", "outcome", "promise_amount", "account")
SORT_PATTERN = "^-?(" + "|".join(SORT_KEYS) + ")$"
_HEX_ID = re.compile(r"^[0-9a-f]{6,32}$")
_PHONE_CHARS = re.compile(r"^[\d\s+().\-/]+$")


def exists_for_call(*criteria: ColumnElement[bool]) -> ColumnElement[bool]:
    """EXISTS (...) about the outer query's call; the outer query may join the same tables."""
    return exists().where(*criteria).correlate(Call)


@dataclass
class CallFilters:
    date_from: date | None = None
    date_to: date | None = None
    tz: str = "UTC"
    outcome: str | None = None
    campaign_id: str | None = None
    account_id: str | None = None
    script_id: str | None = None
    language: str | None = None
    status: str | None = None
    text: str | None = None  # said in the call
    find: str | None = None  # phone, name, external id or call id
    reviewed: bool | None = None
    sort: str = "-started_at"


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Problem(422, f"'tz': unknown time zone {name!r}; use an IANA name such as Asia/Shanghai",
                      errors=[{"field": "tz", "message": "unknown time zone"}]) from None


def phone_candidates(text: str) -> tuple[list[str], str]:
    """E.164 forms the text may mean (read as Chinese and as US numbers), and its digits."""
    import phonenumbers

    digits = re.sub(r"\D", "", text)
    found: list[str] = []
    for region in ("CN", "US"):
        try:
            num = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(num):
            e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
            if e164 not in found:
                found.append(e164)
    return found, digits


def find_clause(find: str, personal: bool) -> ColumnElement[bool]:
    """Calls whose callee matches by phone, name or external id, or whose id starts with the text.
    Keys without personal-data access match ids only (a name or phone search would reveal them)."""
    text = find.strip()
    account_match: list[ColumnElement[bool]] = [Account.external_id == text]
    call_match: list[ColumnElement[bool]] = []
    low = text.lower()
    if _HEX_ID.match(low):
        upper = low[:-1] + chr(ord(low[-1]) + 1)
        call_match.append(and_(Call.id >= low, Call.id < upper))
    if personal:
        if _PHONE_CHARS.match(text) and len(re.sub(r"\D", "", text)) >= 5:
            exact, digits = phone_candidates(text)
            phone_or = [Account.phone.like("%" + digits)]
            if exact:
                phone_or.append(Account.phone.in_(exact))
            account_match.append(or_(*phone_or))
        account_match.append(Account.name.ilike(contains_pattern(text), escape="\\"))
    ids = select(Account.id).where(or_(*account_match)).correlate(None)
    return or_(Call.account_id.in_(ids), *call_match) if call_match else Call.account_id.in_(ids)


def duration_ms(dialect: str) -> ColumnElement[Any]:
    if dialect == "sqlite":
        return (func.julianday(Call.ended_at) - func.julianday(Call.started_at)) * 86_400_000.0
    return func.extract("epoch", Call.ended_at - Call.started_at) * 1000.0


def where_clauses(f: CallFilters, personal: bool) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    zone = zone_of(f.tz)
    if f.date_from:
        where.append(Call.started_at >= datetime.combine(f.date_from, time.min, zone).astimezone(UTC))
    if f.date_to:
        end = datetime.combine(f.date_to + timedelta(days=1), time.min, zone).astimezone(UTC)
        where.append(Call.started_at < end)
    if f.outcome:
        if f.outcome not in CALL_OUTCOMES:
            raise Problem(422, f"'outcome': unknown outcome {f.outcome!r}; use one of {', '.join(CALL_OUTCOMES)}",
                          errors=[{"field": "outcome", "message": "unknown outcome"}])
        where.append(Call.outcome == f.outcome)
    for col, value in ((Call.campaign_id, f.campaign_id), (Call.account_id, f.account_id),
                       (Call.script_id, f.script_id), (Call.language, f.language), (Call.status, f.status)):
        if value:
            where.append(col == value)
    if f.text:
        where.append(exists_for_call(Turn.call_id == Call.id,
                                    Turn.text.ilike(contains_pattern(f.text), escape="\\")))
    if f.find and f.find.strip():
        where.append(find_clause(f.find, personal))
    elif f.find is not None and not f.find.strip():
        where.append(false())
    if f.reviewed is not None:
        reviewed = exists_for_call(CallReview.call_id == Call.id)
        where.append(reviewed if f.reviewed else ~reviewed)
    return where


def count_calls(db: Session, where: list[ColumnElement[bool]]) -> int:
    return int(db.scalar(select(func.count()).select_from(Call).where(*where)) or 0)


def page_stmt(db: Session, where: list[ColumnElement[bool]], sort: str) -> Select:
    dialect = db.get_bind().dialect.name
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    cols = {"started_at": Call.started_at, "duration": duration_ms(dialect), "outcome": Call.outcome,
            "promise_amount": Outcome.promise_amount, "account": Account.name}
    col = cols[key]
    order = [(col.desc() if desc else col.asc()).nulls_last(), Call.id.desc() if desc else Call.id.asc()]
    return (select(Call, Account.name, Account.external_id, Account.phone, Account.timezone, Account.currency,
                   Outcome.promise_amount, Outcome.promise_date, Campaign.name, CallReview.score,
                   CallReview.outcome_original, CallReview.tags)
            .join(Account, Account.id == Call.account_id, isouter=True)
            .join(Outcome, Outcome.call_id == Call.id, isouter=True)
            .join(Campaign, Campaign.id == Call.campaign_id, isouter=True)
            .join(CallReview, CallReview.call_id == Call.id, isouter=True)
            .where(*where).order_by(*order))


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def row_out(row: Any, personal: bool) -> dict[str, Any]:
    (call, name, external_id, phone, zone, currency, amount, promise_date, campaign_name, score,
     original, tags) = row
    started, ended = _utc(call.started_at), _utc(call.ended_at)
    return {
        "id": call.id, "account_id": call.account_id, "campaign_id": call.campaign_id,
        "script_id": call.script_id, "language": call.language, "transport": call.transport,
        "status": call.status, "started_at": started, "ended_at": ended, "outcome": call.outcome,
        "end_reason": call.end_reason, "has_recording": bool(call.recording_path),
        "account_name": name if personal or name is None else mask_name(name),
        "account_phone": phone if personal or phone is None else mask_phone(phone),
        "account_external_id": external_id, "account_timezone": zone, "currency": currency,
        "duration_ms": int((ended - started).total_seconds() * 1000) if started and ended else None,
        "promise_amount": amount, "promise_date": promise_date, "campaign_name": campaign_name,
        "review_score": score, "outcome_original": original,
        "review_tags": list((tags or {}).get("items", [])) if tags is not None else None,
    }


def search(db: Session, f: CallFilters, personal: bool, limit: int, offset: int) -> dict[str, Any]:
    where = where_clauses(f, personal)
    total = count_calls(db, where)
    rows = db.execute(page_stmt(db, where, f.sort).limit(limit).offset(offset)).all()
    end = offset + len(rows)
    return {"items": [row_out(r, personal) for r in rows], "total": total, "limit": limit, "offset": offset,
            "next_offset": end if end < total else None}

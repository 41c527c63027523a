"""JSON in and out for the gate (the `dialwise compliance check --jsonl` contract)."""
from __future__ import annotations

import json
from datetime import datetime

from agent.campaign.compliance.rules import INVALID_INPUT
from agent.campaign.compliance.types import EVENT_TYPES, HistoryEvent, ProposedDial, Verdict


def parse_instant(value, field: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"'{field}' must be an ISO-8601 string with an offset")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"'{field}' is not ISO-8601: {value!r}") from exc
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"'{field}' needs a UTC offset (e.g. +08:00): {value!r}")
    return dt


def _str(obj: dict, key: str, required: bool = True) -> str | None:
    v = obj.get(key)
    if v is None:
        if required:
            raise ValueError(f"missing '{key}'")
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise ValueError(f"'{key}' must be a string")
    return str(v)


def _bool(obj: dict, key: str, default: bool = False) -> bool:
    v = obj.get(key, default)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise ValueError(f"'{key}' must be true or false")
    return v


def event_from_json(obj) -> HistoryEvent:
    if not isinstance(obj, dict):
        raise ValueError("each history item must be an object")
    typ = obj.get("type")
    if typ not in EVENT_TYPES:
        raise ValueError(f"history type {typ!r} is not one of {list(EVENT_TYPES)}")
    cb = obj.get("callback_at")
    until = obj.get("until")
    return HistoryEvent(
        at=parse_instant(obj.get("at"), "history.at"),
        type=typ,
        phone=_str(obj, "phone", required=False),
        debt_id=_str(obj, "debt_id", required=False),
        campaign_id=_str(obj, "campaign_id", required=False),
        callback_at=parse_instant(cb, "history.callback_at") if cb is not None else None,
        until=parse_instant(until, "history.until") if until is not None else None,
    )


def dial_from_json(obj) -> tuple[ProposedDial, list[HistoryEvent]]:
    """Parse one proposed dial with its history; ValueError says what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("each line must be a JSON object")
    hist_raw = obj.get("history") or []
    if not isinstance(hist_raw, list):
        raise ValueError("'history' must be a list")
    max_attempts = obj.get("max_attempts")
    if max_attempts is not None and (isinstance(max_attempts, bool) or not isinstance(max_attempts, int)):
        raise ValueError("'max_attempts' must be an integer")
    dial = ProposedDial(
        jurisdiction=_str(obj, "jurisdiction"),
        purpose=_str(obj, "purpose"),
        at=parse_instant(obj.get("at"), "at"),
        timezone=_str(obj, "timezone"),
        phone=_str(obj, "phone"),
        debt_id=_str(obj, "debt_id", required=False) or "",
        consent=_bool(obj, "consent"),
        opted_out=_bool(obj, "opted_out"),
        region=_str(obj, "region", required=False),
        campaign_id=_str(obj, "campaign_id", required=False),
        party=_str(obj, "party", required=False) or "debtor",
        discloses_debt=_bool(obj, "discloses_debt"),
        max_attempts=max_attempts,
        touch=_str(obj, "touch", required=False),
    )
    return dial, [event_from_json(e) for e in hist_raw]


def check_line(line: str, rules=None) -> Verdict:
    """One JSON line in, one verdict out; never raises."""
    from agent.campaign.compliance.gate import check

    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return Verdict(False, INVALID_INPUT, f"not valid JSON: {exc.msg}")
    try:
        dial, history = dial_from_json(obj)
    except (ValueError, TypeError, OverflowError) as exc:
        return Verdict(False, INVALID_INPUT, str(exc))
    try:
        return check(dial, history, rules)
    except Exception as exc:  # noqa: BLE001 - the contract: a bad line never crashes the stream
        return Verdict(False, INVALID_INPUT, f"could not judge this dial: {type(exc).__name__}: {exc}")

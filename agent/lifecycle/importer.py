"""`dialwise events import FILE.jsonl`: every line checked first; nothing is written unless all are good;
then applied in `at` order in one transaction."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from agent.errors import UserError
from agent.lifecycle.events import (
    EventConflict,
    EventFieldError,
    EventIn,
    InvalidEvent,
    UnknownAccount,
    apply_event,
    existing_answer,
    in_at_order,
    parse_event,
)
from agent.store import session_scope
from agent.store.models import Account

MAX_ERRORS_SHOWN = 20


def read_events(path: Path) -> tuple[list[EventIn], list[str]]:
    if not path.exists():
        raise UserError(f"events file {path} does not exist")
    events: list[EventIn] = []
    errors: list[str] = []
    seen: dict[str, tuple[int, str]] = {}
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                ev = parse_event(json.loads(line))
            except json.JSONDecodeError as exc:
                errors.append(f"{path}:{n}: not valid JSON ({exc.msg})")
                continue
            except InvalidEvent as exc:
                errors.append(f"{path}:{n}: {exc}")
                continue
            if ev.id in seen:
                first, fp = seen[ev.id]
                if fp != ev.fingerprint():
                    errors.append(f"{path}:{n}: event id {ev.id!r} is used on line {first} for a different event")
                continue  # the same event twice: one effect
            seen[ev.id] = (n, ev.fingerprint())
            events.append(ev)
    return events, errors


def import_events(path: Path, db_url: str | None = None) -> dict[str, Any]:
    events, errors = read_events(path)
    with session_scope(db_url) as s:
        known = set(s.scalars(select(Account.external_id).where(
            Account.external_id.in_({e.account_external_id for e in events}))))
        for ev in events:
            if ev.account_external_id not in known:
                errors.append(f"{path}: event {ev.id!r}: no account with external id {ev.account_external_id!r}")
            else:
                try:
                    existing_answer(s, ev)
                except EventConflict as exc:
                    errors.append(f"{path}: {exc}")
        if errors:
            shown = errors[:MAX_ERRORS_SHOWN]
            more = f"\n… and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
            raise UserError(f"{len(errors)} problem(s); nothing was imported:\n" + "\n".join(shown) + more)
        applied = replayed = 0
        touches = 0
        for ev in in_at_order(events):
            if existing_answer(s, ev) is not None:
                replayed += 1
                continue
            try:
                answer = apply_event(s, ev)
            except (UnknownAccount, EventFieldError) as exc:
                raise UserError(f"{path}: event {ev.id!r}: {exc}; nothing was imported") from None
            applied += 1
            touches += bool((answer["effect"].get("touch") or {}).get("queued"))
    return {"file": str(path), "events": len(events), "applied": applied, "already_applied": replayed,
            "touches_queued": touches}

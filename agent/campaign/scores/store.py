"""Scores and the database: read accounts + contact history in the `dialwise plan` formats; save/load models."""
from __future__ import annotations

import json
import pickle
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from agent.errors import UserError
from agent.timeutil import iso

MODEL_VERSION = 1


def account_dict(acc) -> dict[str, Any]:
    """An Account row as a `dialwise plan` account dict (custom numeric fields go to features)."""
    features: dict[str, Any] = {}
    for k, v in (acc.custom or {}).items():
        try:
            features[k] = float(v)
        except (TypeError, ValueError):
            continue
    if acc.credit_limit is not None:
        features["credit_limit"] = float(acc.credit_limit)
    if acc.last_payment_date is not None:
        features["days_since_last_payment"] = float((date.today() - acc.last_payment_date).days)
    return {
        "id": acc.id, "phone": acc.phone, "timezone": acc.timezone, "jurisdiction": acc.jurisdiction,
        "language": acc.language, "purpose": acc.purpose, "bucket": acc.bucket, "product": acc.product,
        "balance": float(acc.balance or 0.0), "days_past_due": int(acc.days_past_due or 0),
        "consent": bool(acc.consent_marketing if acc.purpose == "telesales" else acc.consent_calls),
        "features": features,
    }


def load_from_db(purpose: str, db_url: str | None = None) -> tuple[list[dict], list[dict]]:
    """Accounts of ``purpose`` and their history: calls with outcomes, unanswered attempts, last payments."""
    from sqlalchemy import select

    from agent.store.db import session_scope
    from agent.store.models import Account, Attempt, Call, Outcome

    accounts: list[dict] = []
    history: list[dict] = []
    with session_scope(db_url) as s:
        accs = list(s.scalars(select(Account).where(Account.purpose == purpose)))
        ids = {a.id for a in accs}
        accounts = [account_dict(a) for a in accs]
        with_call: set[str] = set()
        for call, out in s.execute(select(Call, Outcome).join(Outcome, Outcome.call_id == Call.id, isouter=True)):
            if call.account_id not in ids:
                continue
            if call.attempt_id:
                with_call.add(call.attempt_id)
            kind = (out.kind if out is not None else None) or call.outcome
            if not kind or call.started_at is None:
                continue
            history.append({"account_id": call.account_id, "at": iso(call.started_at), "script_id": call.script_id,
                            "outcome": kind, "amount": out.promise_amount if out is not None else None})
        for att in s.scalars(select(Attempt).where(Attempt.dialed_at.is_not(None))):
            if att.account_id in ids and att.id not in with_call and att.result in ("no_answer", "busy", "voicemail"):
                history.append({"account_id": att.account_id, "at": iso(att.dialed_at), "script_id": att.script_id,
                                "outcome": att.result, "amount": None})
        for a in accs:
            if a.last_payment_date is not None:
                at = datetime.combine(a.last_payment_date, time(12), tzinfo=UTC)
                history.append({"account_id": a.id, "at": at.isoformat(), "script_id": None,
                                "outcome": "payment", "amount": None})
    history.sort(key=lambda h: h["at"])
    return accounts, history


def read_jsonl(path: str | Path) -> list[dict]:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"no such file: {p}")
    rows = []
    with p.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise UserError(f"{p} line {i} is not JSON: {exc.msg}") from None
    return rows


def default_model_path(purpose: str) -> Path:
    from agent.config import get_settings

    return get_settings().var_dir / "models" / f"scores_{purpose}.pkl"


def save_scorer(scorer, path: str | Path | None = None) -> Path:
    p = Path(path) if path else default_model_path(scorer.purpose)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        pickle.dump({"version": MODEL_VERSION, "scorer": scorer}, fh)
    tmp.replace(p)
    return p


def load_scorer(purpose: str = "collections", path: str | Path | None = None):
    """The scorer saved by `dialwise scores train` (only load files you wrote: this is a pickle)."""
    p = Path(path) if path else default_model_path(purpose)
    if not p.is_file():
        raise UserError(f"no trained {purpose} score at {p}: run `dialwise scores train --purpose {purpose}`")
    with p.open("rb") as fh:
        blob = pickle.load(fh)  # noqa: S301 - our own artefact
    if blob.get("version") != MODEL_VERSION:
        raise UserError(f"{p} was written by another version: retrain with `dialwise scores train`")
    return blob["scorer"]


"""Durable writes for one call: each turn is committed when it happens, the end in one transaction.

Outbox events are written in the same transaction as the change that causes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from agent.id_masking import mask_slots
from agent.store import session_scope
from agent.store.models import Account, Call, OptOut, OutboxEvent, Outcome, Turn

# outcome -> extra event type beside call.completed
OUTCOME_EVENTS = {
    "ptp": "ptp.created",
    "opted_out": "optout.created",
    "dispute": "dispute.created",
    "callback": "callback.requested",
    "transferred": "transfer.requested",
}


@dataclass
class TurnRecord:
    speaker: str  # agent | callee
    text: str
    start_ms: int
    end_ms: int
    node: str | None = None
    intent: str | None = None
    confidence: float | None = None
    entities: dict[str, Any] | None = None
    latency: dict[str, Any] | None = None
    interrupted: bool = False


def _parse_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _parse_dt(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


class CallStore:
    def __init__(self, call_id: str, db_url: str | None = None) -> None:
        self.call_id = call_id
        self.db_url = db_url
        self._seq = 0

    def mark_live(self) -> None:
        with session_scope(self.db_url) as s:
            call = s.get(Call, self.call_id)
            call.status = "live"
            call.started_at = datetime.now(UTC)
            s.add(OutboxEvent(type="call.started", payload={
                "call_id": call.id, "account_id": call.account_id, "script_id": call.script_id,
                "campaign_id": call.campaign_id, "language": call.language,
            }))

    def add_turn(self, rec: TurnRecord) -> int:
        with session_scope(self.db_url) as s:
            self._seq += 1
            turn = Turn(call_id=self.call_id, seq=self._seq, speaker=rec.speaker, text=rec.text,
                        node=rec.node, intent=rec.intent, confidence=rec.confidence,
                        entities=rec.entities or {}, start_ms=rec.start_ms, end_ms=rec.end_ms,
                        latency=rec.latency or {}, interrupted=rec.interrupted)
            s.add(turn)
            s.flush()
            return turn.id

    def update_turn(self, turn_id: int, **fields: Any) -> None:
        with session_scope(self.db_url) as s:
            turn = s.get(Turn, turn_id)
            for key, value in fields.items():
                setattr(turn, key, value)

    def transcript(self) -> list[dict[str, Any]]:
        with session_scope(self.db_url) as s:
            rows = s.scalars(select(Turn).where(Turn.call_id == self.call_id).order_by(Turn.seq))
            return [{"speaker": t.speaker, "text": t.text, "intent": t.intent, "start_ms": t.start_ms}
                    for t in rows]

    def finish(self, outcome: str, slots: dict[str, Any], end_reason: str,
               recording_path: str | None, error: str | None = None) -> None:
        transcript = self.transcript()
        slots = mask_slots(slots)  # identity answers are never stored in clear (agent/id_masking.py)
        with session_scope(self.db_url) as s:
            call = s.get(Call, self.call_id)
            call.status = "ended"
            call.ended_at = datetime.now(UTC)
            call.outcome = outcome
            call.slots = slots
            call.end_reason = end_reason
            call.recording_path = recording_path
            call.error = error
            row = Outcome(call_id=call.id, account_id=call.account_id, kind=outcome,
                          promise_amount=_num(slots.get("pay_amount")) if outcome == "ptp" else None,
                          promise_date=_parse_date(slots.get("pay_date")) if outcome == "ptp" else None,
                          callback_at=callback_at(slots),
                          details={k: v for k, v in slots.items() if _jsonable(v)})
            s.add(row)
            s.flush()
            from agent.lifecycle.promises import create_from_outcome

            create_from_outcome(s, call, row)  # a ptp becomes a Promise record, in the same transaction
            payload = {"call_id": call.id, "account_id": call.account_id, "script_id": call.script_id,
                       "campaign_id": call.campaign_id, "outcome": outcome, "slots": slots,
                       "end_reason": end_reason, "transcript_url": f"/api/calls/{call.id}"}
            s.add(OutboxEvent(type="call.completed", payload=payload))
            extra = OUTCOME_EVENTS.get(outcome)
            if extra:
                event = dict(payload)
                if outcome == "transferred":
                    event["transcript"] = transcript
                s.add(OutboxEvent(type=extra, payload=event))
            if outcome == "opted_out":
                account = s.get(Account, call.account_id)
                s.add(OptOut(phone=account.phone if account else "", account_id=call.account_id,
                             scope="all", channel="call", source_call_id=call.id))
        from agent.lifecycle.audit_store import audit_after_end

        audit_after_end(self.call_id, self.db_url)  # every call audited when it ends


def callback_at(slots: dict[str, Any]) -> datetime | None:
    """The requested call-back instant from the script's callback_date (+ callback_time) slots."""
    day = _parse_date(slots.get("callback_date"))
    if day is None:
        return None
    hhmm = str(slots.get("callback_time") or "10:00")
    try:
        hour, minute = (int(x) for x in hhmm.split(":")[:2])
    except ValueError:
        hour, minute = 10, 0
    return datetime(day.year, day.month, day.day, hour, minute)


def _num(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict))

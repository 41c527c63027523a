"""Helpers for the lifecycle tests (prefix test_lifecycle_): accounts in zh and en, finished calls."""
from __future__ import annotations

from datetime import UTC, date, datetime

from agent.call_store import CallStore, TurnRecord
from agent.store.db import session_scope
from agent.store.models import Account, Call

ZH = dict(name="王芳", phone="+8613812345678", timezone="Asia/Shanghai", jurisdiction="CN", language="zh",
          balance=8800.0, currency="CNY", bucket="M1", days_past_due=12, id_last4="5678")
EN = dict(name="Jane Doe", phone="+14155550123", timezone="America/New_York", jurisdiction="US", language="en",
          balance=1200.0, currency="USD", bucket="M1", days_past_due=12, id_last4="1234")


def make_account(url: str, ext: str, lang: str = "zh", **kw) -> str:
    fields = dict(ZH if lang == "zh" else EN)
    fields.update(kw)
    with session_scope(url) as s:
        acc = Account(external_id=ext, due_date=date(2025, 6, 1), **fields)
        s.add(acc)
        s.flush()
        return acc.id


def finished_call(url: str, account_id: str, outcome: str, slots: dict | None = None, *,
                  turns: list[TurnRecord] = (), script_id: str | None = None, lang: str = "zh",
                  ended_at: datetime | None = None, campaign_id: str | None = None) -> str:
    """A call that goes through the real end of call (CallStore.finish)."""
    with session_scope(url) as s:
        call = Call(account_id=account_id, script_id=script_id or f"collections_m1_{lang}_a", language=lang,
                    status="live", started_at=datetime.now(UTC), campaign_id=campaign_id)
        s.add(call)
        s.flush()
        call_id = call.id
    store = CallStore(call_id, url)
    for t in turns:
        store.add_turn(t)
    store.finish(outcome, slots or {}, "completed", None)
    if ended_at is not None:
        with session_scope(url) as s:
            s.get(Call, call_id).ended_at = ended_at
    return call_id

"""The stack for end-to-end Twilio tests: the dialwise app and the Twilio-protocol test carrier,
each a real uvicorn server on a free port, with settings pointing each at the other."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from tests.tel_support import ServerThread, free_port

ACCOUNT_SID = "AC" + "5" * 32
TOKEN = "carrier-test-token-0123456789"
FROM = "+12125550100"
ZH, EN = "+8613800138000", "+12125550123"
BUSY, NOANSWER, FAILS = "+12125550001", "+12125550002", "+12125550003"
CALLERS = {
    ZH: ["zh_001.wav", "zh_016.wav"],  # confirm_identity, promise_to_pay
    EN: ["en_040.wav", "en_056.wav"],
}


def numbers(ring_s: float = 0.3) -> dict[str, Any]:
    from telephony_adapter.sim.carrier_caller import CallerBehaviour
    from telephony_adapter.sim.twilio_carrier import NumberBehaviour

    out = {n: NumberBehaviour("caller", ring_s, CallerBehaviour(clips=clips)) for n, clips in CALLERS.items()}
    out[BUSY] = NumberBehaviour("busy", ring_s)
    out[NOANSWER] = NumberBehaviour("no-answer", 1.0)
    out[FAILS] = NumberBehaviour("failed")
    return out


@contextmanager
def env(values: dict[str, str]) -> Iterator[None]:
    from agent.config import get_settings

    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        get_settings.cache_clear()


@contextmanager
def twilio_stack(tmp: Path, *, carrier_kwargs: dict[str, Any] | None = None,
                 run_webhooks: bool = False) -> Iterator[dict[str, Any]]:
    """dialwise (full app) + carrier on free ports; yields {"app", "carrier", "app_port", "carrier_port", "db"}."""
    from telephony_adapter.sim.twilio_carrier import TwilioCarrier

    app_port, carrier_port = free_port(), free_port()
    db = f"sqlite:///{tmp}/twilio.sqlite3"
    with env({"DATABASE_URL": db, "VAR_DIR": str(tmp / "var"), "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
              "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM_NUMBER": FROM, "TWILIO_MAX_CPS": "50",
              "PUBLIC_BASE_URL": f"http://127.0.0.1:{app_port}",
              "TWILIO_API_BASE_URL": f"http://127.0.0.1:{carrier_port}",
              # the test's CRM listens on loopback: an operator-allowed on-premises network
              "WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"}):
        from agent.server.app import create_app

        carrier = TwilioCarrier(ACCOUNT_SID, TOKEN, numbers=numbers(), **(carrier_kwargs or {}))
        with ServerThread(create_app(db, run_webhooks=run_webhooks), app_port), \
                ServerThread(carrier.app, carrier_port):
            yield {"carrier": carrier, "app_port": app_port, "carrier_port": carrier_port, "db": db}


def make_account(lang: str, phone: str) -> str:
    from agent.store import session_scope
    from agent.store.models import Account

    zh = lang == "zh"
    with session_scope() as s:
        acc = Account(name="王芳" if zh else "Emily Johnson", phone=phone,
                      timezone="Asia/Shanghai" if zh else "America/New_York", jurisdiction="CN" if zh else "US",
                      language=lang, purpose="collections", bucket="M1", balance=2000.0 if zh else 450.0,
                      currency="CNY" if zh else "USD", due_date=date(2026, 11, 13), days_past_due=10,
                      id_last4="1234")
        s.add(acc)
        s.flush()
        return acc.id


def make_dial(lang: str, phone: str, with_attempt: bool = True) -> Any:
    """An account, a planned attempt and a call row for it; returns the DialTarget."""
    from agent.calls import create_call
    from agent.dialing.base import DialTarget
    from agent.store import session_scope
    from agent.store.models import Attempt
    from dialogs.library import script_for

    account_id = make_account(lang, phone)
    script = script_for("collections", "M1", lang)
    attempt_id = None
    if with_attempt:
        from agent.store.models import Campaign

        with session_scope() as s:
            camp = Campaign(name=f"direct {phone}", status="running", max_attempts=3, network="twilio")
            s.add(camp)
            s.flush()
            att = Attempt(account_id=account_id, script_id=script, phone=phone, status="dialing",
                          campaign_id=camp.id)
            s.add(att)
            s.flush()
            attempt_id = att.id
    call_id = create_call(account_id, script, "twilio", attempt_id=attempt_id)
    return DialTarget(call_id=call_id, account_id=account_id, phone=phone, script_id=script, language=lang,
                      attempt_id=attempt_id)

"""A campaign on the Twilio network, end to end: the API creates accounts, a webhook subscription and a
campaign, and starts it; a worker dials through the gated dial path and Twilio's REST API (the
Twilio-protocol test carrier); the carrier plays a recorded callee over the signed media stream and posts
signed status callbacks; the call is stored with its turns and outcome and the CRM webhook arrives;
busy and unanswered numbers get their retries; an opted-out account is never dialled."""
from __future__ import annotations

import asyncio
import time

import pytest
from fastapi import FastAPI, Request

from tests.carrier_support import BUSY, NOANSWER, ZH, twilio_stack
from tests.dial_support import zone_at_local_hour
from tests.tel_support import ServerThread, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
OPTED = "+8613900139000"


def crm_app(received: list[dict]) -> FastAPI:
    app = FastAPI()

    @app.post("/crm")
    async def hook(request: Request) -> dict:
        received.append({"body": await request.body(), "signature": request.headers.get("dialwise-signature")})
        return {"ok": True}

    return app


async def test_campaign_on_twilio(tmp_path):
    import httpx

    from agent.calls import get_deps
    from agent.config import get_settings
    from agent.dialing.loopback import session_runner
    from agent.dialing.twilio import TwilioDialer
    from agent.runner import run_attempts
    from agent.server.auth import create_key
    from agent.server.webhook_receiver import verify
    from agent.store import session_scope
    from agent.store.models import Call, Turn
    from dialogs.library import script_for

    received: list[dict] = []
    crm_port = free_port()
    with twilio_stack(tmp_path, run_webhooks=True) as st, ServerThread(crm_app(received), crm_port):
        base = f"http://127.0.0.1:{st['app_port']}"
        with session_scope() as s:
            key, _ = create_key(s, "admin")
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=20)
        sub = api.post("/api/webhooks/subscriptions", json={"url": f"http://127.0.0.1:{crm_port}/crm",
                                                             "event_types": ["call.completed"]})
        assert sub.status_code == 201, sub.text
        secret = sub.json()["secret"]
        zone = zone_at_local_hour(11)
        ids = {}
        for phone in (ZH, BUSY, NOANSWER, OPTED):
            zh = phone.startswith("+86")
            r = api.post("/api/accounts", json={
                "name": "王芳" if zh else "Emily Johnson", "language": "zh", "balance": 2000, "currency": "CNY",
                "phone": phone, "timezone": zone, "jurisdiction": "CN", "days_past_due": 10, "id_last4": "1234",
                "bucket": "M1"})
            assert r.status_code == 201, r.text
            ids[phone] = r.json()["id"]
        from agent.store.models import OptOut

        with session_scope() as s:
            s.add(OptOut(phone=OPTED, account_id=ids[OPTED], channel="call"))
        r = api.post("/api/campaigns", json={"name": "twilio live", "network": "twilio", "max_attempts": 3,
                                             "account_ids": list(ids.values()),
                                             "script_id": script_for("collections", "M1", "zh")})
        assert r.status_code == 201, r.text
        campaign_id = r.json()["id"]
        assert api.post(f"/api/campaigns/{campaign_id}/start").status_code == 200
        # a worker: claims the due attempts and dials each through the gated path and the REST API
        deps = await asyncio.to_thread(get_deps)
        dialer = TwilioDialer.from_settings(get_settings(), session_runner(deps))
        reports = await run_attempts(campaign_id=campaign_id, deps=deps, dialer=dialer, concurrency=4)
        await dialer.close()
        by_account = {r.account_id: r for r in reports}
        assert by_account[ids[OPTED]].status == "blocked" and by_account[ids[OPTED]].rule == "opt_out"
        carrier = st["carrier"]
        dialled = sorted(c.to for c in carrier.calls.values())
        assert dialled == sorted([ZH, BUSY, NOANSWER])  # the opted-out number never rang
        attempts = api.get(f"/api/campaigns/{campaign_id}/attempts", params={"limit": 50}).json()["items"]
        first = {a["account_id"]: a for a in attempts if a["attempt_no"] == 1}
        second = {a["account_id"]: a for a in attempts if a["attempt_no"] == 2}
        assert (first[ids[ZH]]["status"], first[ids[ZH]]["result"]) == ("done", "answered")
        assert first[ids[BUSY]]["result"] == "busy" and first[ids[NOANSWER]]["result"] == "no_answer"
        assert first[ids[OPTED]]["status"] == "blocked" and first[ids[OPTED]]["blocked_rule"] == "opt_out"
        for phone in (BUSY, NOANSWER):  # retried later, not now
            retry = second[ids[phone]]
            assert retry["status"] == "planned" and retry["not_before"] > first[ids[phone]]["not_before"]
        assert ids[ZH] not in second and ids[OPTED] not in second
        # the answered call: stored with its turns and outcome, the CallSid on the attempt
        sid = next(sid for sid, c in carrier.calls.items() if c.to == ZH)
        with session_scope() as s:
            call = s.query(Call).filter(Call.account_id == ids[ZH]).one()
            turns = s.query(Turn).filter(Turn.call_id == call.id).order_by(Turn.seq).all()
            call_id, outcome, status = call.id, call.outcome, call.status
            intents = [t.intent for t in turns if t.speaker == "callee"]
        assert status == "ended" and outcome and intents and intents[0] == "confirm_identity", intents
        assert carrier.calls[sid].stream_params == {"call_id": call_id}
        assert all(code == 200 for c in carrier.calls.values() for _, code in c.callbacks)
        # the CRM hears of every ended call, signed
        deadline = time.monotonic() + 20
        events: list[dict] = []
        while time.monotonic() < deadline:
            events = [verify(r["body"], r["signature"], secret) for r in received]
            if len({e["data"]["call_id"] for e in events if e["type"] == "call.completed"}) >= 3:
                break
            await asyncio.sleep(0.3)
        done = {e["data"]["call_id"]: e["data"] for e in events if e["type"] == "call.completed"}
        assert done[call_id]["outcome"] == outcome
        assert sorted(d["outcome"] for k, d in done.items() if k != call_id) == ["no_answer", "no_answer"]

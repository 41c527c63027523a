"""ID digits spoken aloud are masked like keyed ones: in storage, the API, the live monitor, webhooks
and the console's data. Recordings on disk are the server user's only."""
from __future__ import annotations

import json

import pytest

from agent.call_store import CallStore
from agent.id_masking import HIDDEN, id_slots, mask_id_answer, mask_slots, mask_turn
from agent.server.webhooks import event_body
from agent.store.db import session_scope
from agent.store.models import Call, OutboxEvent, Turn
from tests.security.conftest import auth
from tests.server_helpers import seed_call

pytestmark = pytest.mark.db


@pytest.mark.parametrize("said", ["It's 8807", "8 8 0 7", "8-8-0-7", "eight eight oh seven", "double eight zero seven",
                                  "是八八零七", "八八〇七", "８８０７", "我的是 8807 对"])
def test_spoken_id_digits_in_any_spelling_are_masked(said):
    masked = mask_id_answer(said)
    assert not any(ch.isdigit() for ch in masked)
    for w in ("eight", "seven", "zero", "八", "零", "七", "〇"):
        assert w not in masked


def test_the_library_scripts_name_their_id_slots():
    from dialogs.library import load_script

    assert "given_last4" in id_slots(load_script("collections_m1_en_a"))


def _seed_id_turn(url: str, tmp) -> str:
    call_id = seed_call(url, tmp, language="en", status="live", with_recording=False)
    with session_scope(url) as s:  # a row as written before masking: digits in clear
        s.add(Turn(call_id=call_id, seq=5, speaker="callee", text="It's 8807", intent="out_of_scope",
                   entities={"last4": "8807", "amount": None}, start_ms=9000, end_ms=9800))
        s.get(Call, call_id).slots = {"given_last4": "8807", "pay_amount": 500}
    return call_id


def test_api_and_live_monitor_mask_id_answers(env):
    call_id = _seed_id_turn(env["url"], env["tmp"])
    c = env["client"]
    for scope in ("admin", "supervisor", "crm"):
        r = c.get(f"/api/calls/{call_id}", headers=auth(env["keys"][scope]))
        assert r.status_code == 200 and "8807" not in r.text
        body = r.json()
        assert body["slots"]["given_last4"] == HIDDEN and body["slots"]["pay_amount"] == 500
        assert any(t["text"] == "It's ****" for t in body["turns"])
    with c.websocket_connect("/ws/live", headers=auth(env["keys"]["supervisor"])) as ws:
        seen = []
        while len(seen) < 4:
            msg = ws.receive_json()
            if msg["type"] == "turn":
                seen.append(msg["turn"])
    assert "8807" not in json.dumps(seen) and any(t["text"] == "It's ****" for t in seen)


def test_storage_and_webhooks_never_hold_the_digits(env):
    url = env["url"]
    call_id = seed_call(url, env["tmp"], language="en", status="live", with_recording=False)
    store = CallStore(call_id, url)
    store._seq = 10
    store.finish("transferred", {"given_last4": "8807", "pay_amount": 500}, "transfer", None)
    with session_scope(url) as s:
        assert s.get(Call, call_id).slots["given_last4"] == HIDDEN
        events = s.query(OutboxEvent).all()
        bodies = [event_body(e, "https://dialwise.example") for e in events]
        legacy = OutboxEvent(type="call.completed", payload={"call_id": call_id, "slots": {"given_last4": "1234"}})
    assert events and all(b"8807" not in _without_random_values(b) for b in bodies)
    assert b"1234" not in _without_random_values(event_body(legacy))


def _without_random_values(body: bytes) -> bytes:
    """An event's bytes without its random hex ids and its timestamp, where any four digits turn up by chance (one
    CI run in a few hundred found "8807" inside an id)."""
    doc = json.loads(body)
    ids = {doc.pop("id", None), doc.pop("created_at", None)}
    ids |= {v for k, v in doc["data"].items() if k.endswith("_id") and isinstance(v, str)}
    text = json.dumps(doc, ensure_ascii=False)
    for value in filter(None, ids):
        text = text.replace(value, "")
    return text.encode("utf-8")


def test_a_turn_without_id_digits_is_left_alone():
    turn = {"speaker": "callee", "text": "I can pay 500 on the 3rd", "entities": {"last4": None, "amount": 500}}
    assert mask_turn(turn) == turn
    assert mask_slots({"pay_amount": 500}) == {"pay_amount": 500}


def test_recordings_are_readable_by_the_servers_user_only(tmp_path):
    from agent.recording import StereoRecorder

    rec = StereoRecorder()
    path = rec.save(tmp_path / "recordings" / "c1.wav")
    assert path.stat().st_mode & 0o077 == 0
    assert (tmp_path / "recordings").stat().st_mode & 0o077 == 0

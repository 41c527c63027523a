"""Twilio REST placement and transfer through the official client, over real HTTP to a local
stand-in for api.twilio.com (the client's HTTP layer is pointed at it; nothing else is replaced)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from telephony_adapter.twilio import TwilioRest

SEEN: list[tuple[str, str, dict]] = []


class FakeTwilioApi(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server naming)
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        SEEN.append((self.command, self.path, parse_qs(body)))
        sid = self.path.rsplit("/", 1)[-1].removesuffix(".json")
        sid = "CA" + "1" * 32 if sid == "Calls" else sid
        payload = json.dumps({"sid": sid, "status": "queued", "account_sid": "AC" + "0" * 32}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


class LocalHttp(TwilioHttpClient):
    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def request(self, method, url, *args, **kwargs):
        return super().request(method, url.replace("https://api.twilio.com", self.base), *args, **kwargs)


def test_place_call_and_transfer_via_rest():
    srv = HTTPServer(("127.0.0.1", 0), FakeTwilioApi)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        settings = SimpleNamespace(twilio_account_sid="AC" + "0" * 32, twilio_auth_token="tok",
                                   twilio_from_number="+12125550100", public_base_url="https://dw.example.com",
                                   transfer_number="queue:collections")
        client = Client(settings.twilio_account_sid, "tok",
                        http_client=LocalHttp(f"http://127.0.0.1:{srv.server_address[1]}"))
        rest = TwilioRest(settings, client=client)
        sid = rest.place_call("c0ffee", "+8613800138000")
        assert sid == "CA" + "1" * 32
        method, path, form = SEEN[0]
        assert path.endswith("/Accounts/AC" + "0" * 32 + "/Calls.json")
        assert form["To"] == ["+8613800138000"] and form["From"] == ["+12125550100"]
        assert '<Stream url="wss://dw.example.com/twilio/media-stream">' in form["Twiml"][0]
        assert '<Parameter name="call_id" value="c0ffee" />' in form["Twiml"][0]
        assert form["StatusCallback"] == ["https://dw.example.com/twilio/status?call_id=c0ffee"]
        assert set(form["StatusCallbackEvent"]) == {"initiated", "ringing", "answered", "completed"}
        rest.redirect_to_human(sid, "queue:collections")
        rest.redirect_to_human(sid, "+8610123456")
        assert SEEN[1][1].endswith(f"/Calls/{sid}.json")
        assert "<Enqueue>collections</Enqueue>" in SEEN[1][2]["Twiml"][0]
        assert "<Dial><Number>+8610123456</Number></Dial>" in SEEN[2][2]["Twiml"][0]
    finally:
        srv.shutdown()

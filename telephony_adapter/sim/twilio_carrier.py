"""A Twilio-protocol test carrier: Twilio's REST Calls resource, status callbacks and Media
Streams, with simulated callees that play recorded clips. Written from Twilio's public docs.

    carrier = TwilioCarrier("AC…", "token", numbers={"+8613800138000": NumberBehaviour(...)})
    uvicorn.run(carrier.app, port=…)          # or: python -m telephony_adapter.sim.twilio_carrier

Per placed call it posts signed status callbacks (initiated, ringing, then per the number's
behaviour: busy, no-answer, failed, or answered … completed with CallDuration), takes the TwiML
inline or fetches it signed from `Url`, opens the signed media-stream websocket and plays the
callee (carrier_caller.StreamCaller). `GET /_carrier/calls` reports every call, with the
voice-to-voice latency each callee heard.
"""
from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from telephony_adapter.sim.carrier_caller import VOICES_DIR, CallerBehaviour, StreamCaller
from telephony_adapter.sim.carrier_wire import TwimlError, basic_auth, error_body, parse_twiml, signature

log = logging.getLogger(__name__)

API = "/2010-04-01/Accounts/{account}"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ANSWERS = ("caller", "busy", "no-answer", "failed")
FINAL = ("completed", "busy", "no-answer", "failed", "canceled")
EVENT_OF = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}  # else "completed"
SIP_CODE = {"busy": 486, "no-answer": 487, "failed": 500, "canceled": 487, "completed": 200}


@dataclass
class NumberBehaviour:
    """What happens when a number is dialled."""

    answer: str = "caller"  # caller | busy | no-answer | failed
    ring_s: float = 1.0  # rings this long before answering / being busy / giving up
    caller: CallerBehaviour = field(default_factory=CallerBehaviour)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NumberBehaviour:
        if d.get("answer", "caller") not in ANSWERS:
            raise ValueError(f"answer must be one of {ANSWERS}, not {d.get('answer')!r}")
        caller = CallerBehaviour(**d.get("caller", {})) if isinstance(d.get("caller"), dict) else CallerBehaviour()
        return cls(answer=d.get("answer", "caller"), ring_s=float(d.get("ring_s", 1.0)), caller=caller)


@dataclass
class CarrierCall:
    sid: str
    account_sid: str
    to: str
    from_: str
    twiml: str | None
    url: str | None
    method: str
    status_callback: str | None
    callback_method: str
    events: list[str]
    timeout_s: float
    status: str = "queued"
    created: float = field(default_factory=time.time)
    answered_at: float | None = None
    ended_at: float | None = None
    callbacks: list[tuple[str, int | str]] = field(default_factory=list)  # (CallStatus, HTTP status|error)
    stream_params: dict[str, str] = field(default_factory=dict)
    transferred_to: str | None = None
    error: str | None = None
    report: dict[str, Any] | None = None
    caller: StreamCaller | None = None
    cancel: asyncio.Event = field(default_factory=asyncio.Event)  # set: canceled while queued or ringing
    _cb_seq: int = 0

    def duration_s(self) -> int:
        if self.answered_at is None:
            return 0
        return int(math.ceil((self.ended_at or time.time()) - self.answered_at))

    def resource(self) -> dict[str, Any]:
        fmt = lambda t: email.utils.formatdate(t, usegmt=True) if t else None  # noqa: E731
        return {
            "sid": self.sid, "account_sid": self.account_sid, "to": self.to, "from": self.from_,
            "to_formatted": self.to, "from_formatted": self.from_, "status": self.status,
            "direction": "outbound-api", "api_version": "2010-04-01", "answered_by": None,
            "date_created": fmt(self.created), "date_updated": fmt(time.time()),
            "start_time": fmt(self.answered_at), "end_time": fmt(self.ended_at),
            "duration": str(self.duration_s()) if self.status in FINAL else None,
            "price": None, "price_unit": "USD", "parent_call_sid": None, "caller_name": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{self.sid}.json",
        }

    def summary(self) -> dict[str, Any]:
        return {"sid": self.sid, "to": self.to, "from": self.from_, "status": self.status,
                "duration": self.duration_s(), "callbacks": self.callbacks, "stream_params": self.stream_params,
                "transferred_to": self.transferred_to, "error": self.error, "caller": self.report,
                "twiml_from": "url" if self.url else "inline"}


class TwilioCarrier:
    def __init__(self, account_sid: str, auth_token: str, *, numbers: dict[str, NumberBehaviour] | None = None,
                 default: NumberBehaviour | None = None, max_cps: float | None = None,
                 voices_dir: Path = VOICES_DIR, max_call_s: float = 900.0, signing_token: str | None = None) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.signing_token = signing_token or auth_token  # another value plays an impostor carrier
        self.numbers = dict(numbers or {})
        self.default = default or NumberBehaviour()
        self.max_cps = max_cps
        self.voices_dir = voices_dir
        self.max_call_s = max_call_s
        self.calls: dict[str, CarrierCall] = {}
        self.refused: list[tuple[int, int]] = []  # (HTTP status, Twilio code) of refused requests
        self._recent: list[float] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: Any = None
        self.app = self._build_app()

    def behaviour(self, number: str) -> NumberBehaviour:
        return self.numbers.get(number, self.default)

    # --- REST ----------------------------------------------------------------------------------
    def _build_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            yield
            for task in list(self._tasks):
                task.cancel()
            if self._http is not None:
                await self._http.aclose()

        app = FastAPI(title="Twilio-protocol test carrier", docs_url=None, redoc_url=None, lifespan=lifespan)

        @app.post(API + "/Calls.json")
        async def create_call(account: str, request: Request) -> JSONResponse:
            refused = self._check_auth(account, request)
            if refused is not None:
                return refused
            form = await request.form()
            return self._create(account, {k: [str(v) for v in form.getlist(k)] for k in form.keys()})

        @app.get(API + "/Calls/{sid}.json")
        async def fetch_call(account: str, sid: str, request: Request) -> JSONResponse:
            refused = self._check_auth(account, request)
            if refused is not None:
                return refused
            call = self.calls.get(sid)
            return JSONResponse(call.resource()) if call else self._error(404, 20404, f"Call {sid} not found")

        @app.post(API + "/Calls/{sid}.json")
        async def update_call(account: str, sid: str, request: Request) -> JSONResponse:
            refused = self._check_auth(account, request)
            if refused is not None:
                return refused
            call = self.calls.get(sid)
            if call is None:
                return self._error(404, 20404, f"Call {sid} not found")
            form = dict((await request.form()).items())
            return self._update(call, {k: str(v) for k, v in form.items()})

        @app.get("/_carrier/calls")
        async def list_calls() -> JSONResponse:
            return JSONResponse([c.summary() for c in self.calls.values()])

        @app.put("/_carrier/numbers")
        async def set_numbers(body: dict[str, Any]) -> JSONResponse:
            try:
                for number, d in body.items():
                    b = NumberBehaviour.from_dict(d)
                    if number == "default":
                        self.default = b
                    else:
                        self.numbers[number] = b
            except (TypeError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=422)
            return JSONResponse({"numbers": len(self.numbers)})

        return app

    def _error(self, status: int, code: int, message: str) -> JSONResponse:
        self.refused.append((status, code))
        return JSONResponse(error_body(status, code, message), status_code=status)

    def _check_auth(self, account: str, request: Request) -> JSONResponse | None:
        creds = basic_auth(request.headers.get("authorization"))
        if creds != (self.account_sid, self.auth_token) or account != self.account_sid:
            return self._error(401, 20003, "Authenticate")
        return None

    def _create(self, account: str, form: dict[str, list[str]]) -> JSONResponse:
        one = lambda k: (form.get(k) or [""])[0].strip()  # noqa: E731
        to, from_, twiml, url = one("To"), one("From"), one("Twiml"), one("Url")
        if not to:
            return self._error(400, 21201, "No 'To' number is specified")
        if not from_:
            return self._error(400, 21213, "No 'From' number is specified")
        if not E164.match(to):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not twiml and not url:
            return self._error(400, 21205, "Either Url, Twiml or ApplicationSid is required")
        if url and not url.startswith(("http://", "https://")):
            return self._error(400, 21205, f"Url is not a valid URL: {url}")
        try:
            timeout = float(one("Timeout") or 60)
        except ValueError:
            return self._error(400, 21215, "Timeout must be a number of seconds")
        if self.max_cps:
            now = time.monotonic()
            self._recent = [t for t in self._recent if now - t < 1.0]
            if len(self._recent) >= self.max_cps:
                return self._error(429, 20429, "Too Many Requests")
            self._recent.append(now)
        events = [e for v in form.get("StatusCallbackEvent", []) for e in v.split()] or ["completed"]
        call = CarrierCall(sid="CA" + secrets.token_hex(16), account_sid=account, to=to, from_=from_,
                           twiml=twiml or None, url=url or None, method=(one("Method") or "POST").upper(),
                           status_callback=one("StatusCallback") or None,
                           callback_method=(one("StatusCallbackMethod") or "POST").upper(),
                           events=events, timeout_s=max(1.0, min(timeout, 600.0)))
        self.calls[call.sid] = call
        task = asyncio.get_running_loop().create_task(self._lifecycle(call), name=f"carrier-{call.sid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return JSONResponse(call.resource(), status_code=201)

    def _update(self, call: CarrierCall, form: dict[str, str]) -> JSONResponse:
        status, twiml = form.get("Status", ""), form.get("Twiml", "")
        if status:
            if status not in ("canceled", "completed"):
                return self._error(400, 21218, f"Status must be canceled or completed, not {status!r}")
            if call.status in ("queued", "initiated", "ringing"):
                call.cancel.set()
            elif call.status == "in-progress" and call.caller is not None:
                call.caller.hang_up("carrier")
        elif twiml:
            try:
                doc = parse_twiml(twiml)
            except TwimlError as exc:
                return self._error(400, 12100, str(exc))
            if call.status != "in-progress":
                return self._error(400, 21220, "Call is not in-progress. Cannot redirect.")
            call.transferred_to = doc.transfer_to or call.transferred_to
            if call.caller is not None:
                call.caller.hang_up("redirected")
        return JSONResponse(call.resource())

    # --- one call's life -------------------------------------------------------------------------
    async def _lifecycle(self, call: CarrierCall) -> None:
        try:
            await self._life(call)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("carrier call %s failed", call.sid)
            call.error = call.error or f"{type(exc).__name__}: {exc}"
            if call.status not in FINAL:
                await self._set(call, "failed")

    async def _life(self, call: CarrierCall) -> None:
        b = self.behaviour(call.to)
        await asyncio.sleep(0.02)  # the 201 goes out first
        await self._set(call, "initiated")
        if b.answer == "failed":
            await self._set(call, "failed")
            return
        await self._set(call, "ringing")
        ring = min(b.ring_s, call.timeout_s)
        try:
            await asyncio.wait_for(call.cancel.wait(), timeout=ring)
            await self._set(call, "canceled")
            return
        except TimeoutError:
            pass
        if b.answer in ("busy", "no-answer"):
            await self._set(call, b.answer)
            return
        if b.ring_s >= call.timeout_s:
            await self._set(call, "no-answer")
            return
        call.answered_at = time.time()
        await self._set(call, "in-progress")
        await self._connected(call, b)
        call.ended_at = time.time()
        await self._set(call, "completed")

    async def _connected(self, call: CarrierCall, b: NumberBehaviour) -> None:
        try:
            doc = parse_twiml(call.twiml if call.twiml else await self._fetch_twiml(call))
        except (TwimlError, OSError, RuntimeError) as exc:
            call.error = f"application error: {exc}"  # Twilio says so to the callee and hangs up
            return
        if doc.transfer_to:
            call.transferred_to = doc.transfer_to
            return
        if not doc.stream_url:
            return
        call.stream_params = dict(doc.parameters)
        caller = StreamCaller(doc.stream_url, {"X-Twilio-Signature": signature(self.signing_token, doc.stream_url)},
                              account_sid=call.account_sid, call_sid=call.sid,
                              stream_sid="MZ" + secrets.token_hex(16), params=doc.parameters,
                              behaviour=b.caller, voices_dir=self.voices_dir)
        call.caller = caller
        timer = asyncio.get_running_loop().call_later(self.max_call_s, caller.hang_up, "carrier")
        try:
            report = await caller.run()
        finally:
            timer.cancel()
        call.report = report.as_dict()
        if report.error:
            call.error = f"media stream: {report.error}"

    async def _fetch_twiml(self, call: CarrierCall) -> str:
        params = {"AccountSid": call.account_sid, "ApiVersion": "2010-04-01", "CallSid": call.sid,
                  "CallStatus": "in-progress", "Called": call.to, "Caller": call.from_,
                  "Direction": "outbound-api", "From": call.from_, "To": call.to}
        resp = await self._request(call.method, call.url or "", params)
        if resp.status_code != 200:
            raise RuntimeError(f"TwiML fetch from {call.url} answered HTTP {resp.status_code}")
        return resp.text

    async def _request(self, method: str, url: str, params: dict[str, str]) -> Any:
        import httpx

        if self._http is None:
            self._http = httpx.AsyncClient(timeout=15.0)
        if method == "GET":
            full = url + ("&" if "?" in url else "?") + urlencode(params)
            return await self._http.get(full, headers={"X-Twilio-Signature": signature(self.signing_token, full)})
        sig = signature(self.signing_token, url, params)
        return await self._http.post(url, data=params, headers={"X-Twilio-Signature": sig})

    async def _set(self, call: CarrierCall, status: str) -> None:
        """Move the call to `status` and post the status callback, if the caller subscribed to it."""
        call.status = status
        if status in FINAL:
            call.ended_at = call.ended_at or time.time()
        event = EVENT_OF.get(status, "completed")
        if not call.status_callback or event not in call.events:
            return
        params = {"AccountSid": call.account_sid, "ApiVersion": "2010-04-01", "CallSid": call.sid,
                  "CallStatus": status, "Called": call.to, "Caller": call.from_, "Direction": "outbound-api",
                  "From": call.from_, "To": call.to, "CallbackSource": "call-progress-events",
                  "SequenceNumber": str(call._cb_seq),
                  "Timestamp": email.utils.format_datetime(datetime.now(UTC), usegmt=True)}
        call._cb_seq += 1
        if status in FINAL:
            params.update(CallDuration=str(call.duration_s()), SipResponseCode=str(SIP_CODE[status]))
        try:
            resp = await self._request(call.callback_method, call.status_callback, params)
            call.callbacks.append((status, resp.status_code))
        except Exception as exc:  # Twilio logs a failed callback and carries on
            call.callbacks.append((status, f"{type(exc).__name__}"))


def load_numbers(path: Path) -> tuple[dict[str, NumberBehaviour], NumberBehaviour | None]:
    import json

    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    numbers = {k: NumberBehaviour.from_dict(v) for k, v in raw.items() if k != "default"}
    return numbers, NumberBehaviour.from_dict(raw["default"]) if "default" in raw else None


def main(argv: list[str] | None = None) -> None:
    import argparse

    import uvicorn

    p = argparse.ArgumentParser(description="Twilio-protocol test carrier")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8089)
    p.add_argument("--account-sid", required=True)
    p.add_argument("--auth-token", required=True)
    p.add_argument("--numbers", type=Path, help="JSON {number|default: behaviour}")
    p.add_argument("--max-cps", type=float, default=None)
    args = p.parse_args(argv)
    numbers, default = load_numbers(args.numbers) if args.numbers else ({}, None)
    carrier = TwilioCarrier(args.account_sid, args.auth_token, numbers=numbers, default=default, max_cps=args.max_cps)
    uvicorn.run(carrier.app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

"""Twilio's HTTP side in the application: TwiML and status callbacks (they touch storage), and the
hooks that let the library's media-stream websocket (telephony_adapter.twilio_routes) run calls.

Include `router` (it carries the media-stream route too). Every request must carry a valid
X-Twilio-Signature keyed by TWILIO_AUTH_TOKEN, otherwise 403; with no token nothing is checked.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from agent.config import get_settings
from agent.errors import UserError
from telephony_adapter import twilio_routes
from telephony_adapter.twilio import STATUS_PATH, TWIML_PATH, stream_twiml, validate_signature

log = logging.getLogger("dialwise.twilio")
router = APIRouter(tags=["twilio"])
router.include_router(twilio_routes.router)


async def run_session(call_id: str, transport: Any) -> Any:
    """The media stream's session runner: run the call, then close its attempt and wake its dialer."""
    from agent.calls import run_call
    from agent.dialing.twilio_status import session_finished
    from agent.dialing.waiters import runner_for, session_started

    session_started(call_id)
    runner = runner_for(call_id)  # a dialer in this process brought its own models and call settings
    result = await (runner(call_id, transport) if runner is not None else run_call(call_id, transport))
    await asyncio.to_thread(session_finished, call_id, result)
    return result


def _rest() -> Any:
    settings = get_settings()
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return None
    from telephony_adapter.twilio_rest import TwilioRest

    return TwilioRest(settings)


def install_stream_hooks(runner: twilio_routes.CallRunner | None = None) -> None:
    """Connect the library's media-stream websocket to this application (settings, sessions)."""
    twilio_routes.configure(twilio_routes.StreamHooks(
        runner=runner or run_session,
        auth_token=lambda: get_settings().twilio_auth_token,
        public_base_url=lambda: get_settings().public_base_url,
        rest=_rest,
        refused=(twilio_routes.StreamRefused, UserError),
    ))


install_stream_hooks()


def _public_url(path: str, query: str) -> str:
    base = get_settings().public_base_url.rstrip("/")
    return base + path + (f"?{query}" if query else "")


async def _require_signature(request: Request) -> dict[str, str]:
    """Returns the form parameters once the signature checks out; 403 otherwise."""
    params: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form()
        params = {k: str(v) for k, v in form.multi_items()}
    token = get_settings().twilio_auth_token
    if token:
        url = _public_url(request.url.path, request.url.query)
        if not validate_signature(token, url, params, request.headers.get("x-twilio-signature")):
            raise HTTPException(status_code=403, detail="invalid or missing X-Twilio-Signature")
    return params


def _call_exists(call_id: str) -> bool:
    from agent.store import session_scope
    from agent.store.models import Call

    with session_scope() as s:
        return s.get(Call, call_id) is not None


@router.api_route(TWIML_PATH + "/{call_id}", methods=["GET", "POST"], include_in_schema=False)
async def twiml(call_id: str, request: Request) -> Response:
    await _require_signature(request)
    if not await asyncio.to_thread(_call_exists, call_id):
        raise HTTPException(status_code=404, detail=f"no call {call_id}")
    body = stream_twiml(call_id, get_settings().public_base_url)
    return Response(content=body, media_type="application/xml")


@router.post(STATUS_PATH, include_in_schema=False)
async def status_callback(request: Request, call_id: str = "") -> JSONResponse:
    """Twilio's call-progress events drive the attempt; an unknown call is answered 200 and logged."""
    from agent.dialing.twilio_status import apply_call_status

    params = await _require_signature(request)
    if not call_id:
        log.warning("twilio status callback without call_id (CallSid %s): ignored", params.get("CallSid"))
        return JSONResponse({"call_id": None, "known": False})
    return JSONResponse(await asyncio.to_thread(apply_call_status, call_id, params))

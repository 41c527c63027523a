"""The app's side of Asterisk AudioSocket: running each connected call, recording a transfer where the
dialplan reads it, and the dialplan's route. The wire and transport live in telephony_adapter/audiosocket.py."""
from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from agent.calls import run_call
from agent.errors import USER_ERRORS
from agent.store import session_scope
from agent.store.models import Call
from telephony_adapter.audiosocket import serve
from telephony_adapter.errors import CallRefused


def record_transfer(call_id: str, db_url: str | None = None) -> None:
    """Mark the call transferred, so the dialplan's /audiosocket/next answers 'transfer'."""
    with session_scope(db_url) as s:
        call = s.get(Call, call_id)
        if call is not None:
            call.end_reason = "transferred"


async def on_transfer(call_id: str) -> None:
    await asyncio.to_thread(record_transfer, call_id)


def next_action(call_id: str, db_url: str | None = None) -> str:
    """'transfer' when the agent handed the call to a person, otherwise 'hangup'."""
    with session_scope(db_url) as s:
        call = s.get(Call, call_id)
        if call is not None and (call.end_reason == "transferred" or call.outcome == "transferred"):
            return "transfer"
    return "hangup"


async def run_connected_call(call_id: str, transport: Any) -> Any:
    """Run the call row an Asterisk channel named; a user-facing error refuses the call (no traceback)."""
    try:
        return await run_call(call_id, transport)
    except USER_ERRORS as exc:
        raise CallRefused(str(exc)) from exc


async def serve_calls(host: str, port: int) -> asyncio.base_events.Server:
    """The AudioSocket server that runs dialwise calls (`dialwise audiosocket serve`)."""
    return await serve(host, port, runner=run_connected_call, on_transfer=on_transfer)


router = APIRouter(tags=["audiosocket"])


@router.get("/audiosocket/next/{call_uuid}", response_class=PlainTextResponse, include_in_schema=False)
def audiosocket_next(call_uuid: str) -> str:
    """For the dialplan: ${CURL(http://host:8000/audiosocket/next/${DIALWISE_CALL_UUID})}."""
    try:
        call_id = uuid.UUID(call_uuid).hex
    except ValueError:
        return "hangup"
    return next_action(call_id)

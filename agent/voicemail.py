"""Answering machines: when to start the message, and which message a machine may hear.

A machine hears the limited-content message only (who is calling and a number to call back,
never the debt), and only on collections calls: telesales leaves no message.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def wait_for_beep(amd: Any, callee_speaking: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Return once the greeting is over: 300 ms after the beep, or after 1 s of quiet when no beep
    comes, or at the timeout."""
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if amd.beep_at_ms is not None and amd.now_ms - amd.beep_at_ms > 300:
            return
        quiet_since = None if callee_speaking() else (quiet_since or time.monotonic())
        if quiet_since and time.monotonic() - quiet_since > 1.0 and amd.beep_at_ms is None:
            return
        await asyncio.sleep(0.05)


def voicemail_script(call_script: Any, lang: str) -> Any | None:
    """The voicemail script for this call's purpose and language, or None when no message is left."""
    from dialogs.library import load_script, script_for

    if getattr(call_script, "purpose", None) != "collections":
        return None
    try:
        return load_script(script_for("collections", "voicemail", lang))
    except Exception:
        return None

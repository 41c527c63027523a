"""Final SIP responses to an INVITE, as dial results.

The strings are the dial results of the app's dial seam (agent/dialing/base.py); this library does
not import the app, a test checks that the two lists agree.
"""
from __future__ import annotations

BUSY = "busy"
NO_ANSWER = "no_answer"
INVALID_NUMBER = "invalid_number"
TRUNK_REFUSED = "trunk_refused"  # the carrier refused us: a campaign-level alarm
FAILED = "failed"

_BY_CODE = {
    486: BUSY, 600: BUSY,  # Busy Here, Busy Everywhere
    480: NO_ANSWER, 408: NO_ANSWER, 487: NO_ANSWER,  # Temporarily Unavailable, Timeout, Request Terminated
    404: INVALID_NUMBER, 484: INVALID_NUMBER, 604: INVALID_NUMBER,  # Not Found, Address Incomplete, Does Not Exist
    403: TRUNK_REFUSED, 503: TRUNK_REFUSED,  # Forbidden, Service Unavailable
}


def dial_result(status: int) -> str:
    """The dial result for a final (non-2xx) response to our INVITE."""
    return _BY_CODE.get(int(status), FAILED)


def describe(status: int, reason: str | None) -> str:
    """'SIP 486 Busy Here' — the outcome's detail."""
    reason = (reason or "").strip()
    return f"SIP {status} {reason}".rstrip()

"""The telephony library's errors. The app shows them to the user as one clear line (see agent/errors.py)."""


class TelephonyError(Exception):
    """A telephony prerequisite is missing or a line cannot be used; the message says how to fix it."""


class CallRefused(TelephonyError):
    """Raised by a call runner to refuse a connected call (unknown or ended call id, bad script): the
    transport logs it as a warning, tells the far end, and hangs up; no traceback."""

"""Errors meant for the person at the terminal or the API client: clear text, no traceback."""
from speech.errors import SpeechError
from telephony_adapter.errors import TelephonyError


class UserError(Exception):
    """Bad input or a missing prerequisite. The message says what is wrong and how to fix it."""


# Every error type whose message is written for the user: the app's own and the libraries'.
# Catch this tuple wherever UserError alone would miss a library's error (CLI main, transports, API).
USER_ERRORS: tuple[type[Exception], ...] = (UserError, SpeechError, TelephonyError)

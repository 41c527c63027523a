"""The speech library's errors. The app shows them to the user as one clear line (see agent/errors.py)."""


class SpeechError(Exception):
    """A speech prerequisite is missing or an input cannot be used; the message says how to fix it."""

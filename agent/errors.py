"""Errors meant for the person at the terminal or the API client: clear text, no traceback."""


class UserError(Exception):
    """Bad input or a missing prerequisite. The message says what is wrong and how to fix it."""

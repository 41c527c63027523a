"""Portfolio export: accounts as CSV in the import's columns, safe to open in a spreadsheet.

A cell that starts with `=`, `+`, `-`, `@` (or their full-width forms, a tab or a carriage return) would
run as a formula in Excel, LibreOffice or Sheets; such values get a leading apostrophe, which spreadsheets
show as text. Phone numbers in E.164 (`+8613812345678`) and plain numbers are left as they are.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date
from typing import IO, Any

from sqlalchemy import select

from agent.campaign.importer import KNOWN_COLUMNS
from agent.store import session_scope
from agent.store.models import Account

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN = re.compile(r"^(\+\d{6,15}|-?\d+(\.\d+)?)$")  # E.164 phones and numbers stay usable
CUSTOM_PREFIX = "custom."
BATCH = 1000


def spreadsheet_safe(value: Any) -> str:
    """The value as CSV text that a spreadsheet shows and never evaluates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_START) and not _PLAIN.match(text):
        return "'" + text
    return text


def _row(acc: Account, custom_keys: list[str]) -> list[str]:
    values = {col: getattr(acc, col, None) for col in KNOWN_COLUMNS}
    custom = acc.custom or {}
    return ([spreadsheet_safe(values[col]) for col in KNOWN_COLUMNS]
            + [spreadsheet_safe(custom.get(k)) for k in custom_keys])


def export_rows(db_url: str | None = None) -> Iterator[list[str]]:
    """The header, then one row per account (oldest first), read in batches."""
    with session_scope(db_url) as s:
        custom_keys = sorted({str(k) for c in s.scalars(select(Account.custom)) for k in (c or {})})
        yield list(KNOWN_COLUMNS) + [spreadsheet_safe(CUSTOM_PREFIX + k) for k in custom_keys]
        last: tuple[Any, str] | None = None
        while True:
            stmt = select(Account).order_by(Account.created_at, Account.id).limit(BATCH)
            if last is not None:
                stmt = stmt.where((Account.created_at > last[0])
                                  | ((Account.created_at == last[0]) & (Account.id > last[1])))
            batch = s.scalars(stmt).all()
            if not batch:
                return
            for acc in batch:
                yield _row(acc, custom_keys)
            last = (batch[-1].created_at, batch[-1].id)
            s.expunge_all()


class _Line:
    """A file-like that hands back what csv.writer wrote, one row at a time."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text


def export_lines(db_url: str | None = None) -> Iterator[str]:
    line = _Line()
    writer = csv.writer(line)
    for row in export_rows(db_url):
        writer.writerow(row)
        yield line.text
        line.text = ""


def export_csv(out: IO[str], db_url: str | None = None) -> int:
    """Write every account to `out`; returns the number of accounts."""
    n = -1
    for text in export_lines(db_url):
        out.write(text)
        n += 1
    return max(n, 0)

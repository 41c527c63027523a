"""Time zones and timezone-aware datetimes: the app's one copy of each helper.

The database hands back naive datetimes on SQLite (stored as UTC) and aware ones on PostgreSQL;
`aware` makes both comparable, `as_utc` also moves them to UTC. `zone` reads an IANA name strictly
(the compliance gate, the importer); `zone_or_utc` falls back to UTC (reports and features, where a
bad zone must not stop the run)."""
from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["as_utc", "aware", "iso", "zone", "zone_or_utc"]


@overload
def aware(dt: datetime) -> datetime: ...
@overload
def aware(dt: None) -> None: ...
def aware(dt: datetime | None) -> datetime | None:
    """A naive datetime is read as UTC; an aware one is returned unchanged; None stays None."""
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


@overload
def as_utc(dt: datetime) -> datetime: ...
@overload
def as_utc(dt: None) -> None: ...
def as_utc(dt: datetime | None) -> datetime | None:
    """`aware`, then expressed in UTC."""
    if dt is None:
        return None
    return aware(dt).astimezone(UTC)


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 with an explicit offset (naive read as UTC), or None."""
    return None if dt is None else aware(dt).isoformat()


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; raises ValueError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc


def zone_or_utc(name: str | None) -> ZoneInfo:
    """The IANA zone `name`, or UTC when it is empty or unknown."""
    try:
        return zone(name) if name else zone("UTC")
    except ValueError:
        return zone("UTC")

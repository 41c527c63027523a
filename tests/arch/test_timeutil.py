"""agent.timeutil: the one aware-datetime and time-zone helper of the app."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from agent.timeutil import as_utc, aware, iso, zone, zone_or_utc

SHANGHAI = timezone(timedelta(hours=8))


def test_aware_reads_naive_as_utc_and_keeps_aware_values():
    assert aware(datetime(2026, 3, 2, 10)) == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert aware(datetime(2026, 3, 2, 10)).tzinfo is UTC
    local = datetime(2026, 3, 2, 18, tzinfo=SHANGHAI)
    assert aware(local) is local  # not moved to UTC
    assert aware(None) is None


def test_as_utc_moves_aware_values_to_utc():
    assert as_utc(datetime(2026, 3, 2, 18, tzinfo=SHANGHAI)) == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert as_utc(datetime(2026, 3, 2, 18, tzinfo=SHANGHAI)).utcoffset() == timedelta(0)
    assert as_utc(datetime(2026, 3, 2, 10)) == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert as_utc(None) is None


def test_iso_has_an_explicit_offset():
    assert iso(datetime(2026, 3, 2, 10)) == "2026-03-02T10:00:00+00:00"
    assert iso(datetime(2026, 3, 2, 18, tzinfo=SHANGHAI)) == "2026-03-02T18:00:00+08:00"
    assert iso(None) is None


def test_zone_is_strict_and_zone_or_utc_falls_back():
    assert zone("Asia/Shanghai").key == "Asia/Shanghai"
    for bad in ("Mars/Base", "", None):
        with pytest.raises(ValueError, match="unknown IANA time zone"):
            zone(bad)  # type: ignore[arg-type]
    assert zone_or_utc("America/New_York").key == "America/New_York"
    assert zone_or_utc("Mars/Base").key == zone_or_utc(None).key == zone_or_utc("").key == "UTC"

"""Regional holiday calendars: no collection or marketing calls on these local dates.

Built in (conservative, days nearly everyone is off):
- CN: New Year's Day (1 Jan), Spring Festival (eve and the first three days, table 2020-2035),
  Labour Day (1 May), National Day (1-3 Oct).
- US: New Year's Day, Independence Day (4 Jul), Thanksgiving (4th Thursday of November), Christmas.
Regions such as "US-CA" or "CN-44" use their own dates if configured, else their country's.
Configure with a rules file ({"holidays": {"US-CA": ["2025-03-31"]}, "replace_holidays": false}).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

# First day of the lunar new year (Spring Festival).
_SPRING_FESTIVAL = {
    2020: date(2020, 1, 25), 2021: date(2021, 2, 12), 2022: date(2022, 2, 1), 2023: date(2023, 1, 22),
    2024: date(2024, 2, 10), 2025: date(2025, 1, 29), 2026: date(2026, 2, 17), 2027: date(2027, 2, 6),
    2028: date(2028, 1, 26), 2029: date(2029, 2, 13), 2030: date(2030, 2, 3), 2031: date(2031, 1, 23),
    2032: date(2032, 2, 11), 2033: date(2033, 1, 31), 2034: date(2034, 2, 19), 2035: date(2035, 2, 8),
}


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _cn(year: int) -> set[date]:
    days = {date(year, 1, 1), date(year, 5, 1), date(year, 10, 1), date(year, 10, 2), date(year, 10, 3)}
    sf = _SPRING_FESTIVAL.get(year)
    if sf:
        days |= {sf + timedelta(days=k) for k in (-1, 0, 1, 2)}
    return days


def _us(year: int) -> set[date]:
    return {date(year, 1, 1), date(year, 7, 4), _nth_weekday(year, 11, 3, 4), date(year, 12, 25)}


_BUILTIN = {"CN": _cn, "US": _us}


@lru_cache(maxsize=256)
def _builtin_dates(region: str, year: int) -> frozenset[date]:
    fn = _BUILTIN.get(region)
    return frozenset(fn(year)) if fn else frozenset()


@dataclass(frozen=True)
class HolidayCalendar:
    extra: dict[str, frozenset[date]] = field(default_factory=dict)
    builtin: bool = True

    def is_holiday(self, region: str, day: date) -> bool:
        """True if `day` is a holiday in `region` (falls back from "US-CA" to "US")."""
        cache = self.__dict__.setdefault("_cache", {})
        key = (region, day)
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = self._lookup(region, day)
        return hit

    def _lookup(self, region: str, day: date) -> bool:
        country = region.split("-", 1)[0]
        for key in (region, country) if region != country else (region,):
            if day in self.extra.get(key, ()):
                return True
        if self.builtin:
            return day in _builtin_dates(country, day.year)
        return False

    def with_dates(self, by_region: dict[str, list], replace: bool = False) -> HolidayCalendar:
        extra = {} if replace else dict(self.extra)
        for region, days in by_region.items():
            parsed = frozenset(d if isinstance(d, date) else date.fromisoformat(str(d)) for d in days)
            extra[region] = extra.get(region, frozenset()) | parsed
        return HolidayCalendar(extra=extra, builtin=self.builtin and not replace)


def default_calendar() -> HolidayCalendar:
    return HolidayCalendar()

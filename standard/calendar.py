"""The working-day calendar: official days from ``chinesecalendar``, corrected by an override file.

Limits count working days (工作日): weekends and statutory holidays are off, adjusted
workdays (调休) count. The hub distributes an override file for years the package does not
know yet and for local closures (e.g. a typhoon day). A year neither source knows raises
``CalendarUnknownYear``: the calendar fails closed and never guesses Monday to Friday.

Example::

    >>> import datetime as dt
    >>> calendar = WorkCalendar()
    >>> calendar.add_workdays(dt.date(2026, 9, 30), 1)   # National Day: 10-01..10-07 off
    datetime.date(2026, 10, 8)
    >>> calendar.count_workdays(dt.date(2026, 9, 30), dt.date(2026, 10, 10))   # 10-10 is 调休
    3
"""

from __future__ import annotations

import datetime as dt
import json
from bisect import bisect_left, bisect_right
from functools import lru_cache
from pathlib import Path
from typing import Literal

import chinese_calendar
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from standard.configfile import ConfigError, describe_errors


class CalendarUnknownYear(Exception):
    """The calendar has no data for a year (neither the package nor the override file)."""

    def __init__(self, year: int) -> None:
        super().__init__(f"calendar has no data for {year}")
        self.year = year


class CalendarOverridesError(ConfigError, ValueError):
    """A calendar override file is missing, unreadable or invalid."""


class YearOverride(BaseModel):
    """One fully specified year: its holidays (weekdays off) and its 调休 workdays (weekend days on)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    holidays: list[dt.date] = Field(default_factory=list)
    workdays: list[dt.date] = Field(default_factory=list)


class CalendarOverrides(BaseModel):
    """The override file: ``{"version": 1, "years": {"2027": {...}}, "closures": [...]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    years: dict[int, YearOverride] = Field(default_factory=dict)
    closures: list[dt.date] = Field(default_factory=list, description="Extra days off, any year.")
    note: str | None = None

    @model_validator(mode="after")
    def _dates_fit_their_year(self) -> CalendarOverrides:
        for year, spec in self.years.items():
            for field in ("holidays", "workdays"):
                for day in getattr(spec, field):
                    if day.year != year:
                        raise ValueError(f"years.{year}.{field}: {day} is not in {year}")
            both = sorted(set(spec.holidays) & set(spec.workdays))
            if both:
                listed = ", ".join(day.isoformat() for day in both)
                raise ValueError(f"years.{year}: {listed} listed as both holiday and workday")
        return self


def load_overrides(path: Path | str) -> CalendarOverrides:
    """Read and validate a calendar override file; errors name the file and the problem."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CalendarOverridesError(f"{path}: file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CalendarOverridesError(f"{path}: not valid JSON: {exc}") from None
    try:
        return CalendarOverrides.model_validate(raw)
    except ValidationError as exc:
        problems = "\n  ".join(describe_errors(exc))
        raise CalendarOverridesError(f"{path}: invalid calendar overrides:\n  {problems}") from None


@lru_cache(maxsize=None)
def _package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


class WorkCalendar:
    """Answers working-day questions for the years it knows; raises CalendarUnknownYear otherwise.

    Each year is computed once, on first use, as a sorted list of working-day ordinals, so
    every question is a bisect.
    """

    def __init__(self, overrides: CalendarOverrides | None = None) -> None:
        self._overrides = overrides
        self._closures = frozenset(overrides.closures) if overrides else frozenset()
        self._ordinals: dict[int, list[int]] = {}
        self._sets: dict[int, frozenset[int]] = {}

    def known_years(self) -> set[int]:
        """Years this calendar can answer for."""
        years = {year for year in range(2000, 2101) if _package_knows(year)}
        if self._overrides:
            years |= set(self._overrides.years)
        return years

    # -- per-year tables ------------------------------------------------------------------

    def _year(self, year: int) -> list[int]:
        days = self._ordinals.get(year)
        if days is None:
            days = self._build(year)
        return days

    def _build(self, year: int) -> list[int]:
        spec = self._overrides.years.get(year) if self._overrides else None
        if spec is None and not _package_knows(year):
            raise CalendarUnknownYear(year)
        first = dt.date(year, 1, 1).toordinal()
        last = dt.date(year, 12, 31).toordinal()
        days = []
        for ordinal in range(first, last + 1):
            day = dt.date.fromordinal(ordinal)
            if spec is not None:
                weekend = day.weekday() >= 5
                working = day in spec.workdays if weekend else day not in spec.holidays
            else:
                working = chinese_calendar.is_workday(day)
            if working and day not in self._closures:
                days.append(ordinal)
        self._ordinals[year] = days
        self._sets[year] = frozenset(days)
        return days

    # -- ordinal core (the deadline engine calls these directly) --------------------------

    def _add_ord(self, ordinal: int, year: int, n: int) -> int:
        """Ordinal of the n-th working day strictly after ``ordinal`` (n >= 1)."""
        days = self._year(year)
        index = bisect_right(days, ordinal) + n - 1
        while index >= len(days):
            index -= len(days)
            year += 1
            days = self._year(year)
        return days[index]

    def _count_ord(self, after: int, through: int) -> int:
        """Working days d with after < d <= through, by ordinal."""
        if through <= after:
            return 0
        first_year = dt.date.fromordinal(after + 1).year
        last_year = dt.date.fromordinal(through).year
        if first_year == last_year:
            days = self._year(first_year)
            return bisect_right(days, through) - bisect_right(days, after)
        total = 0
        for year in range(first_year, last_year + 1):
            days = self._year(year)
            total += bisect_right(days, through) - bisect_right(days, after)
        return total

    # -- public API -----------------------------------------------------------------------

    def is_workday(self, day: dt.date) -> bool:
        """True when ``day`` is a working day (调休 Saturdays included, closures excluded)."""
        year = day.year
        if year not in self._sets:
            self._build(year)
        return day.toordinal() in self._sets[year]

    def add_workdays(self, day: dt.date, n: int) -> dt.date:
        """The n-th working day strictly after ``day``; for n == 0, ``day`` or the next working day.

        >>> WorkCalendar().add_workdays(dt.date(2026, 2, 13), 1)   # Spring Festival: 02-14 is 调休
        datetime.date(2026, 2, 14)
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n == 0:
            return self.next_workday_on_or_after(day)
        return dt.date.fromordinal(self._add_ord(day.toordinal(), day.year, n))

    def count_workdays(self, after: dt.date, through: dt.date) -> int:
        """Number of working days d with after < d <= through (0 when through <= after)."""
        return self._count_ord(after.toordinal(), through.toordinal())

    def next_workday_on_or_after(self, day: dt.date) -> dt.date:
        """``day`` itself when it is a working day, else the next working day."""
        ordinal = day.toordinal()
        year = day.year
        days = self._year(year)
        index = bisect_left(days, ordinal)
        while index >= len(days):
            year += 1
            days = self._year(year)
            index = 0
        return dt.date.fromordinal(days[index])

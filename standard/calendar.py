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
    >>> calendar.subtract_workdays(dt.date(2026, 10, 8), 1)
    datetime.date(2026, 9, 30)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from functools import lru_cache
from itertools import accumulate
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


class _Span:
    """The working days of consecutive known years: their ordinals and a running count.

    ``counts[k]`` is the number of working days d with ``zero < d <= zero + k``. So the working
    days in (a, b] number ``counts[b - zero] - counts[a - zero]``, and the working day with
    running count k is ``days[k - 1]``.
    """

    __slots__ = ("first_year", "last_year", "zero", "end", "counts", "days")

    def __init__(self, first_year: int, last_year: int, days: list[int]) -> None:
        self.first_year, self.last_year = first_year, last_year
        self.zero = dt.date(first_year, 1, 1).toordinal() - 1
        self.end = dt.date(last_year, 12, 31).toordinal()
        self.days = days
        marks = bytearray(self.end - self.zero + 1)
        for ordinal in days:
            marks[ordinal - self.zero] = 1
        self.counts = list(accumulate(marks))


class WorkCalendar:
    """Answers working-day questions for the years it knows; raises CalendarUnknownYear otherwise.

    Each year is computed once, on first use. The years in use are joined into one span with
    a running count of working days, so counting is two lookups and adding one. Methods ending
    in ``_ordinal`` take and return ``date.toordinal()`` numbers (the deadline engine's inner
    loop); the others take dates.
    """

    def __init__(self, overrides: CalendarOverrides | None = None) -> None:
        self._overrides = overrides
        self._closures = frozenset(overrides.closures) if overrides else frozenset()
        self._ordinals: dict[int, list[int]] = {}
        self._unknown: set[int] = set()
        self._span: _Span | None = None

    def fingerprint(self) -> str:
        """A short digest of the overrides in use: it changes when the calendar's answers can.

        >>> WorkCalendar().fingerprint()
        'package'
        """
        if self._overrides is None:
            return "package"
        return hashlib.sha256(self._overrides.model_dump_json().encode()).hexdigest()[:16]

    def known_years(self) -> set[int]:
        """Years this calendar can answer for."""
        years = {year for year in range(2000, 2101) if _package_knows(year)}
        if self._overrides:
            years |= set(self._overrides.years)
        return years

    # -- per-year tables and the span -----------------------------------------------------

    def _year(self, year: int) -> list[int]:
        """The working-day ordinals of ``year``, built on first use."""
        days = self._ordinals.get(year)
        if days is None:
            if year in self._unknown:
                raise CalendarUnknownYear(year)
            days = self._build(year)
        return days

    def _build(self, year: int) -> list[int]:
        spec = self._overrides.years.get(year) if self._overrides else None
        if spec is None and not _package_knows(year):
            self._unknown.add(year)
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
        return days

    def _cover(self, first: int, last: int) -> _Span:
        """A span over the years ``first..last`` (and the current span when they touch).

        Raises CalendarUnknownYear for the earliest of those years the calendar does not know.
        """
        span = self._span
        if span is not None and first <= span.last_year + 1 and last >= span.first_year - 1:
            first, last = min(first, span.first_year), max(last, span.last_year)
        years = [self._year(year) for year in range(first, last + 1)]  # raises before copying
        span = _Span(first, last, [ordinal for days in years for ordinal in days])
        self._span = span
        return span

    def _span_for(self, ordinal: int) -> _Span:
        """The current span when it holds ``ordinal``'s year, else one made for that year."""
        span = self._span
        if span is None or not span.zero < ordinal <= span.end:
            year = dt.date.fromordinal(ordinal).year
            span = self._cover(year, year)
        return span

    # -- ordinal core (the deadline engine calls these directly) --------------------------

    def add_workdays_ordinal(self, ordinal: int, n: int) -> int:
        """``add_workdays`` on ordinals: the n-th working day after ``ordinal`` (n >= 0)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        # n == 0: the day itself or the next working day, i.e. the first one not before it.
        index, step = (ordinal, n) if n > 0 else (ordinal - 1, 1)
        span = self._span_for(ordinal)
        while True:
            rank = span.counts[index - span.zero] + step
            if rank <= len(span.days):
                return span.days[rank - 1]
            span = self._cover(span.first_year, span.last_year + 1)

    def subtract_workdays_ordinal(self, ordinal: int, n: int) -> int:
        """``subtract_workdays`` on ordinals (n >= 0)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        span = self._span_for(ordinal)
        while True:
            rank = span.counts[ordinal - span.zero] - n
            if rank >= 1:
                return span.days[rank - 1]
            span = self._cover(span.first_year - 1, span.last_year)

    def count_workdays_ordinal(self, after: int, through: int) -> int:
        """``count_workdays`` on ordinals: working days d with after < d <= through."""
        if through <= after:
            return 0
        span = self._span
        if span is None or after < span.zero or through > span.end:
            first = dt.date.fromordinal(after + 1).year
            span = self._cover(first, dt.date.fromordinal(through).year)
        return span.counts[through - span.zero] - span.counts[after - span.zero]

    # -- public API -----------------------------------------------------------------------

    def is_workday(self, day: dt.date) -> bool:
        """True when ``day`` is a working day (调休 Saturdays included, closures excluded)."""
        ordinal = day.toordinal()
        span = self._span_for(ordinal)
        index = ordinal - span.zero
        return span.counts[index] != span.counts[index - 1]

    def add_workdays(self, day: dt.date, n: int) -> dt.date:
        """The n-th working day strictly after ``day``; for n == 0, ``day`` or the next working day.

        >>> WorkCalendar().add_workdays(dt.date(2026, 2, 13), 1)   # Spring Festival: 02-14 is 调休
        datetime.date(2026, 2, 14)
        """
        return dt.date.fromordinal(self.add_workdays_ordinal(day.toordinal(), n))

    def subtract_workdays(self, day: dt.date, n: int) -> dt.date:
        """The working day followed by exactly n working days up to and including ``day``.

        For n == 0, ``day`` itself or the last working day before it. It is the first day from
        which at most n working days remain until ``day``, and undoes ``add_workdays``:

        >>> WorkCalendar().subtract_workdays(dt.date(2026, 10, 8), 1)   # 10-01..10-07 off
        datetime.date(2026, 9, 30)
        """
        return dt.date.fromordinal(self.subtract_workdays_ordinal(day.toordinal(), n))

    def count_workdays(self, after: dt.date, through: dt.date) -> int:
        """Number of working days d with after < d <= through (0 when through <= after)."""
        return self.count_workdays_ordinal(after.toordinal(), through.toordinal())

    def next_workday_on_or_after(self, day: dt.date) -> dt.date:
        """``day`` itself when it is a working day, else the next working day."""
        return dt.date.fromordinal(self.add_workdays_ordinal(day.toordinal(), 0))

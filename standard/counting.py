"""The counting convention's pause arithmetic, shared by a case's deadline and its joint shares.

A pause (补正 or 特别程序) is ``[kind, start, end or None]`` with ISO local dates. It removes the
working days after its start up to and including its end; an open pause ends "today", so a
paused clock moves on each day (DESIGN.md, "Counting convention").

Example::

    >>> import datetime as dt
    >>> from standard.calendar import WorkCalendar
    >>> today = dt.date(2026, 11, 6).toordinal()
    >>> spans = pause_intervals([["补正", "2026-11-03", None]], today)
    >>> paused_between(WorkCalendar(), spans, dt.date(2026, 11, 2).toordinal(), today)
    3
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from standard.calendar import WorkCalendar

Pause = list  # [kind, start ISO date, end ISO date or None]
_fromiso = dt.date.fromisoformat


def pause_intervals(pauses: Iterable[Pause], today: int) -> list[tuple[int, int]]:
    """Pauses as merged (start, end] ordinal intervals, open ones ending ``today``."""
    spans = []
    for _kind, start, end in pauses:
        start_ord = _fromiso(start).toordinal()
        end_ord = today if end is None else min(_fromiso(end).toordinal(), today)
        if end_ord > start_ord:
            spans.append((start_ord, end_ord))
    if len(spans) < 2:
        return spans
    spans.sort()
    merged = [spans[0]]
    for start, end in spans[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def paused_between(calendar: WorkCalendar, spans: list[tuple[int, int]], after: int,
                   through: int) -> int:
    """Working days in (after, through] that fall inside a pause."""
    total = 0
    for start, end in spans:
        low, high = max(start, after), min(end, through)
        if high > low:
            total += calendar.count_workdays_ordinal(low, high)
    return total


def pause_grows(pauses: Iterable[Pause], today: int) -> bool:
    """True when a pause is still open (or ends later), so a deadline moves day by day."""
    return any(end is None or _fromiso(end).toordinal() > today for _kind, _start, end in pauses)

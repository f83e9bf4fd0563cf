"""The working-day calendar against the real chinesecalendar 1.11.0 data.

Dates cited from the package (国务院办公厅 notices):
- 2025 国庆节/中秋节: 10-01..10-08 off; Sun 09-28 and Sat 10-11 are 调休 workdays.
- 2026 元旦: 01-01..01-03 off; Sun 01-04 is a workday.
- 2026 春节: 02-15..02-23 off; Sat 02-14 and Sat 02-28 are workdays.
- 2026 中秋节: 09-25..09-27 off; Sun 09-20 is a workday.
- 2026 国庆节: 10-01..10-07 off; Sat 10-10 is a workday.
The package knows 2004-2026 only.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

import chinese_calendar
import pytest

from standard.calendar import (
    CalendarOverrides,
    CalendarOverridesError,
    CalendarUnknownYear,
    WorkCalendar,
    load_overrides,
)


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return WorkCalendar()


def write_overrides(tmp_path, content) -> str:
    path = tmp_path / "calendar.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


# -- the official calendar ---------------------------------------------------------------


def test_national_day_2026(calendar):
    for day in range(1, 8):
        assert not calendar.is_workday(date(2026, 10, day))
    assert calendar.is_workday(date(2026, 9, 30))
    assert calendar.is_workday(date(2026, 10, 8))  # Thursday
    assert calendar.is_workday(date(2026, 10, 10))  # Saturday, 调休
    assert not calendar.is_workday(date(2026, 10, 11))  # an ordinary Sunday
    assert calendar.add_workdays(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert calendar.add_workdays(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert calendar.add_workdays(date(2026, 9, 30), 4) == date(2026, 10, 12)
    # 10-08, 10-09 and the 调休 Saturday 10-10.
    assert calendar.count_workdays(date(2026, 9, 30), date(2026, 10, 11)) == 3


def test_national_day_2025_is_eight_days(calendar):
    assert not calendar.is_workday(date(2025, 10, 8))
    assert calendar.add_workdays(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert calendar.is_workday(date(2025, 9, 28))  # Sunday, 调休
    assert calendar.add_workdays(date(2025, 9, 26), 1) == date(2025, 9, 28)
    assert calendar.is_workday(date(2025, 10, 11))  # Saturday, 调休


def test_spring_festival_2026(calendar):
    for day in range(15, 24):
        assert not calendar.is_workday(date(2026, 2, day))
    assert calendar.add_workdays(date(2026, 2, 13), 1) == date(2026, 2, 14)  # Saturday, 调休
    assert calendar.add_workdays(date(2026, 2, 13), 2) == date(2026, 2, 24)
    # 02-14, 02-24..02-27 and the 调休 Saturday 02-28.
    assert calendar.count_workdays(date(2026, 2, 13), date(2026, 2, 28)) == 6


def test_mid_autumn_2026_adjusted_sunday(calendar):
    assert calendar.is_workday(date(2026, 9, 20))
    assert not calendar.is_workday(date(2026, 9, 25))  # a Friday off
    assert calendar.add_workdays(date(2026, 9, 18), 1) == date(2026, 9, 20)


def test_crossing_new_year(calendar):
    assert calendar.add_workdays(date(2025, 12, 31), 1) == date(2026, 1, 4)  # Sunday, 调休
    assert calendar.next_workday_on_or_after(date(2026, 1, 1)) == date(2026, 1, 4)
    # 2025-12-31, 2026-01-04, 2026-01-05.
    assert calendar.count_workdays(date(2025, 12, 30), date(2026, 1, 5)) == 3


def test_zero_days_and_empty_ranges(calendar):
    assert calendar.add_workdays(date(2026, 11, 2), 0) == date(2026, 11, 2)
    assert calendar.add_workdays(date(2026, 10, 3), 0) == date(2026, 10, 8)
    assert calendar.next_workday_on_or_after(date(2026, 11, 8)) == date(2026, 11, 9)
    assert calendar.count_workdays(date(2026, 11, 9), date(2026, 11, 9)) == 0
    assert calendar.count_workdays(date(2026, 11, 9), date(2026, 11, 2)) == 0
    with pytest.raises(ValueError):
        calendar.add_workdays(date(2026, 11, 2), -1)


def test_long_span(calendar):
    # 45 working days from Tuesday 2026-09-01, through 中秋 and 国庆.
    assert calendar.add_workdays(date(2026, 9, 1), 45) == date(2026, 11, 9)
    assert calendar.count_workdays(date(2026, 9, 1), date(2026, 11, 9)) == 45


# -- unknown years fail closed -----------------------------------------------------------


def test_unknown_year_raises(calendar):
    with pytest.raises(CalendarUnknownYear) as caught:
        calendar.is_workday(date(2027, 1, 4))
    assert caught.value.year == 2027
    assert str(caught.value) == "calendar has no data for 2027"
    with pytest.raises(CalendarUnknownYear):
        calendar.is_workday(date(2003, 6, 2))
    assert 2027 not in calendar.known_years()
    assert {2004, 2025, 2026} <= set(calendar.known_years())


def test_crossing_into_unknown_year_raises(calendar):
    assert calendar.add_workdays(date(2026, 12, 30), 1) == date(2026, 12, 31)
    with pytest.raises(CalendarUnknownYear) as caught:
        calendar.add_workdays(date(2026, 12, 31), 1)
    assert caught.value.year == 2027
    with pytest.raises(CalendarUnknownYear):
        calendar.count_workdays(date(2026, 12, 1), date(2027, 1, 4))
    with pytest.raises(CalendarUnknownYear):
        calendar.next_workday_on_or_after(date(2027, 1, 1))


def test_override_file_makes_2027_known(tmp_path):
    path = write_overrides(tmp_path, {
        "version": 1,
        "years": {"2027": {"holidays": ["2027-01-01"], "workdays": ["2027-01-09"]}},
        "note": "2027 calendar, hypothetical for the test",
    })
    calendar = WorkCalendar(load_overrides(path))
    assert 2027 in calendar.known_years()
    assert not calendar.is_workday(date(2027, 1, 1))  # Friday, holiday
    assert calendar.is_workday(date(2027, 1, 9))  # Saturday, 调休
    assert not calendar.is_workday(date(2027, 1, 10))  # Sunday
    assert calendar.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert calendar.add_workdays(date(2027, 1, 8), 1) == date(2027, 1, 9)
    # 2026-12-31, 2027-01-04..01-08, 2027-01-09.
    assert calendar.count_workdays(date(2026, 12, 30), date(2027, 1, 9)) == 7
    with pytest.raises(CalendarUnknownYear):
        calendar.is_workday(date(2028, 1, 3))


def test_override_year_replaces_package_year():
    calendar = WorkCalendar(CalendarOverrides(version=1, years={2026: {"holidays": []}}))
    assert calendar.is_workday(date(2026, 10, 1))
    assert not calendar.is_workday(date(2026, 10, 10))


def test_closures_are_days_off(tmp_path):
    path = write_overrides(tmp_path, {"version": 1, "closures": ["2026-12-03"]})
    calendar = WorkCalendar(load_overrides(path))
    assert not calendar.is_workday(date(2026, 12, 3))  # Thursday, typhoon closure
    assert calendar.add_workdays(date(2026, 12, 2), 1) == date(2026, 12, 4)
    assert calendar.count_workdays(date(2026, 12, 1), date(2026, 12, 4)) == 2


# -- override file errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"version": 1, "years": {"2027": {"holidays": ["2028-01-01"]}}}, "2028-01-01 is not in 2027"),
        ({"version": 1, "years": {"2027": {"holidays": ["2027-02-06"], "workdays": ["2027-02-06"]}}},
         "2027-02-06 listed as both holiday and workday"),
        ({"version": 1, "closure": ["2026-12-03"]}, "closure: unknown key"),
        ({"version": 2}, "version"),
        ({"version": 1, "closures": ["2026-13-03"]}, "closures.0"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_override_file(tmp_path, content, expected):
    path = write_overrides(tmp_path, content)
    with pytest.raises(CalendarOverridesError) as caught:
        load_overrides(path)
    assert isinstance(caught.value, ValueError)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_missing_override_file(tmp_path):
    with pytest.raises(ValueError, match="file not found"):
        load_overrides(tmp_path / "absent.json")


# -- counting backwards, and the arithmetic against a day-by-day walk ---------------------


def test_subtract_workdays_over_holidays_and_adjusted_days(calendar):
    assert calendar.subtract_workdays(date(2026, 10, 8), 1) == date(2026, 9, 30)   # 国庆
    assert calendar.subtract_workdays(date(2026, 10, 12), 1) == date(2026, 10, 10)  # 调休 Sat
    assert calendar.subtract_workdays(date(2026, 10, 12), 2) == date(2026, 10, 9)
    assert calendar.subtract_workdays(date(2026, 2, 24), 1) == date(2026, 2, 14)   # 春节 调休
    assert calendar.subtract_workdays(date(2026, 11, 9), 0) == date(2026, 11, 9)
    assert calendar.subtract_workdays(date(2026, 10, 3), 0) == date(2026, 9, 30)   # a day off
    with pytest.raises(ValueError):
        calendar.subtract_workdays(date(2026, 11, 9), -1)


def test_subtract_workdays_across_new_year_and_into_unknown_years(calendar):
    # 2026-01-04 is a 调休 Sunday; 01-01..01-03 are off.
    assert calendar.subtract_workdays(date(2026, 1, 5), 1) == date(2026, 1, 4)
    assert calendar.subtract_workdays(date(2026, 1, 5), 2) == date(2025, 12, 31)
    with pytest.raises(CalendarUnknownYear) as caught:
        calendar.subtract_workdays(date(2004, 1, 5), 5)
    assert caught.value.year == 2003
    with pytest.raises(CalendarUnknownYear) as caught:
        calendar.subtract_workdays(date(2027, 1, 4), 0)
    assert caught.value.year == 2027


def test_subtract_undoes_add(calendar):
    day = date(2025, 9, 1)
    while day < date(2026, 12, 1):
        if calendar.is_workday(day):
            for n in (1, 2, 5, 20):
                later = calendar.add_workdays(day, n)
                assert calendar.subtract_workdays(later, n) == day
                assert calendar.count_workdays(day, later) == n
        day += timedelta(days=3)


def test_arithmetic_matches_a_day_by_day_walk_of_the_package():
    calendar = WorkCalendar()
    first, last = date(2024, 12, 1).toordinal(), date(2026, 12, 31).toordinal()
    working = [o for o in range(first, last + 1)
               if chinese_calendar.is_workday(date.fromordinal(o))]
    rng = random.Random(4)
    for _ in range(3000):
        after = rng.randint(first, last - 40)
        through = after + rng.randint(-3, 40)
        expected = sum(1 for o in working if after < o <= through)
        assert calendar.count_workdays_ordinal(after, through) == expected
        n = rng.randint(0, 15)
        later = [o for o in working if (o > after if n else o >= after)]
        if len(later) > max(n - 1, 0):
            assert calendar.add_workdays_ordinal(after, n) == later[max(n - 1, 0)]
        earlier = [o for o in working if o <= through]
        if len(earlier) > n and through <= last:
            assert calendar.subtract_workdays_ordinal(through, n) == earlier[-1 - n]


def test_a_year_known_alone_is_answered_and_gaps_still_raise():
    # The hub could ship 2028 before 2027: 2028 works on its own, spans over 2027 fail closed.
    calendar = WorkCalendar(CalendarOverrides(version=1, years={2028: {"holidays": []}}))
    assert calendar.is_workday(date(2028, 1, 3))
    assert calendar.count_workdays(date(2028, 1, 3), date(2028, 1, 10)) == 5
    assert calendar.add_workdays(date(2026, 12, 30), 1) == date(2026, 12, 31)
    for question in (lambda: calendar.count_workdays(date(2026, 12, 30), date(2028, 1, 5)),
                     lambda: calendar.add_workdays(date(2026, 12, 31), 1),
                     lambda: calendar.subtract_workdays(date(2028, 1, 3), 1)):
        with pytest.raises(CalendarUnknownYear) as caught:
            question()
        assert caught.value.year == 2027
    assert calendar.subtract_workdays(date(2028, 1, 4), 1) == date(2028, 1, 3)
    assert calendar.is_workday(date(2026, 10, 10))   # back to the package's years

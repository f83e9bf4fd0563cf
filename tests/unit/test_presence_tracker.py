"""The per-window state machine and office hours: pure, with time injected."""

from __future__ import annotations

import datetime as dt

import pytest

from edge.presence.ports import ABSENT, LOCAL_TZ, PRESENT
from edge.presence.tracker import (
    AbsenceAlerted,
    AbsenceEnded,
    IntervalClosed,
    OfficeSchedule,
    TrackerSettings,
    WindowTracker,
    parse_office_hours,
)

HOURS = parse_office_hours("08:30-12:00,14:00-17:30")
STEP = dt.timedelta(seconds=10)


def at(hh: int, mm: int, ss: int = 0, day: int = 2) -> dt.datetime:
    return dt.datetime(2026, 11, day, hh, mm, ss, tzinfo=LOCAL_TZ)  # 2026-11-02 is a Monday


def tracker(is_workday=lambda day: True, **settings) -> WindowTracker:
    return WindowTracker(4, OfficeSchedule(HOURS, is_workday), TrackerSettings(**settings))


def feed(window: WindowTracker, start: dt.datetime, end: dt.datetime, occupied: bool) -> list:
    """Observe every 10 s from ``start`` up to, not including, ``end``."""
    events, moment = [], start
    while moment < end:
        events += window.update(moment, occupied)
        moment += STEP
    return events


def of_type(events: list, kind: type) -> list:
    return [event for event in events if isinstance(event, kind)]


def test_a_short_gap_in_sightings_is_not_an_absence():
    window = tracker()
    events = feed(window, at(9, 0), at(9, 5), True)
    events += feed(window, at(9, 5), at(9, 5, 20), False)  # 20 s < 30 s grace
    events += feed(window, at(9, 5, 20), at(9, 10), True)
    assert events == [] and window.state == PRESENT and window.since == at(9, 0)


def test_leaving_is_back_dated_to_the_last_sighting_and_a_return_closes_the_alert():
    window = tracker()
    events = feed(window, at(9, 0), at(9, 10), True)
    events += feed(window, at(9, 10), at(9, 20), False)
    events += window.update(at(9, 20), True)
    intervals = of_type(events, IntervalClosed)
    assert intervals == [
        IntervalClosed(4, PRESENT, at(9, 0), at(9, 9, 50)),
        IntervalClosed(4, ABSENT, at(9, 9, 50), at(9, 20)),
    ]
    [alert] = of_type(events, AbsenceAlerted)
    assert alert.started_at == at(9, 9, 50)
    assert alert.raised_at == at(9, 15)  # first observation more than 5 min after leaving
    assert of_type(events, AbsenceEnded) == [AbsenceEnded(4, at(9, 20), "returned")]
    assert window.state == PRESENT and not window.alert_open


def test_an_absence_shorter_than_the_threshold_is_recorded_without_an_alert():
    window = tracker()
    events = feed(window, at(10, 0), at(10, 5), True)
    events += feed(window, at(10, 5), at(10, 9), False)
    events += window.update(at(10, 9), True)
    assert of_type(events, AbsenceAlerted) == []
    assert [i.state for i in of_type(events, IntervalClosed)] == [PRESENT, ABSENT]


def test_the_threshold_is_configurable():
    window = tracker(absent_after=dt.timedelta(minutes=1), leave_grace=dt.timedelta(seconds=0))
    events = feed(window, at(10, 0), at(10, 3), False)
    [alert] = of_type(events, AbsenceAlerted)
    assert alert.raised_at == at(10, 1, 10)


def test_lunch_break_does_not_count_but_the_morning_part_carries_over():
    window = tracker()
    events = feed(window, at(11, 50), at(11, 57), True)
    events += feed(window, at(11, 57), at(14, 4), False)  # 3 min before lunch + 4 min after
    events += window.update(at(14, 4), True)
    [alert] = of_type(events, AbsenceAlerted)
    assert alert.started_at == at(11, 56, 50)
    assert at(14, 1) < alert.raised_at <= at(14, 2, 20)
    assert of_type(events, AbsenceEnded) == [AbsenceEnded(4, at(14, 4), "returned")]


def test_leaving_for_lunch_on_time_raises_nothing():
    window = tracker()
    events = feed(window, at(11, 40), at(11, 58), True)
    events += feed(window, at(11, 58), at(14, 2), False)
    events += feed(window, at(14, 2), at(14, 10), True)
    assert of_type(events, AbsenceAlerted) == []


def test_an_empty_seat_at_opening_counts_from_the_opening():
    window = tracker()
    events = feed(window, at(8, 0), at(8, 40), False)
    [alert] = of_type(events, AbsenceAlerted)
    assert alert.started_at == at(8, 30)
    assert alert.raised_at == at(8, 35, 10)


def test_no_alert_outside_office_hours_or_on_days_off():
    evening = tracker()
    assert of_type(feed(evening, at(17, 40), at(19, 0), False), AbsenceAlerted) == []
    day_off = tracker(is_workday=lambda day: day.weekday() < 5)
    saturday = at(9, 0, day=7)
    assert (
        of_type(feed(day_off, saturday, saturday + dt.timedelta(hours=2), False), AbsenceAlerted)
        == []
    )


def test_an_alert_still_open_at_closing_time_ends_with_the_office_day():
    window = tracker()
    events = feed(window, at(16, 0), at(16, 30), True)
    events += feed(window, at(16, 30), at(17, 45), False)
    assert of_type(events, AbsenceEnded) == [AbsenceEnded(4, at(17, 30), "office_closed")]
    next_morning = feed(window, at(8, 0, day=3), at(8, 40, day=3), False)
    [alert] = of_type(next_morning, AbsenceAlerted)
    assert alert.started_at == at(8, 30, day=3)
    assert window.state == ABSENT and window.since == at(16, 29, 50)  # the interval runs on


def test_a_calendar_that_does_not_know_the_year_means_closed_and_is_recorded():
    def unknown_year(day: dt.date) -> bool:
        raise LookupError(f"calendar has no data for {day.year}")

    window = tracker(is_workday=unknown_year)
    events = feed(window, at(9, 0), at(9, 30), False)
    assert of_type(events, AbsenceAlerted) == []
    assert "calendar has no data for 2026" in window.schedule.problems[dt.date(2026, 11, 2)]


def test_suspend_closes_intervals_and_ends_alerts_at_the_last_frame():
    window = tracker(absent_after=dt.timedelta(minutes=1), leave_grace=dt.timedelta(0))
    events = feed(window, at(9, 0), at(9, 3), False)
    assert window.alert_open
    events = window.suspend()
    assert events == [
        AbsenceEnded(4, at(9, 2, 50), "no_video"),
        IntervalClosed(4, ABSENT, at(9, 0), at(9, 2, 50)),
    ]
    assert window.state is None and window.suspend() == []
    window.update(at(9, 30), True)
    assert window.state == PRESENT and window.since == at(9, 30)


def test_timestamps_in_utc_use_local_office_hours():
    window = tracker(leave_grace=dt.timedelta(0))
    utc_9am_local = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)
    events = feed(window, utc_9am_local, utc_9am_local + dt.timedelta(minutes=6), False)
    [alert] = of_type(events, AbsenceAlerted)
    assert alert.started_at == at(9, 0)


def test_naive_and_out_of_order_timestamps():
    window = tracker()
    with pytest.raises(ValueError, match="timezone-aware"):
        window.update(dt.datetime(2026, 11, 2, 9, 0), True)
    window.update(at(9, 0), True)
    assert window.update(at(8, 59), False) == [] and window.state == PRESENT


def test_schedule_answers_office_time_and_day_end():
    schedule = OfficeSchedule(HOURS, lambda day: day.weekday() < 5)
    assert schedule.is_office_time(at(9, 0)) and not schedule.is_office_time(at(12, 30))
    assert schedule.day_end(dt.date(2026, 11, 2)) == at(17, 30)
    assert schedule.day_end(dt.date(2026, 11, 7)) is None
    assert [(a, b) for a, b, _ in schedule.segments(at(11, 0), at(15, 0))] == [
        (at(11, 0), at(12, 0)),
        (at(14, 0), at(15, 0)),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("08:30-12:00;14:00-17:30", "expected HH:MM-HH:MM"),
        ("12:00-08:30", "start must come before the end"),
        ("08:30-12:00,11:00-17:30", "in order and not overlap"),
        ("nine-five", "expected HH:MM-HH:MM"),
    ],
)
def test_office_hours_errors_say_what_to_fix(text, message):
    with pytest.raises(ValueError, match=message):
        parse_office_hours(text)


def test_office_hours_parse():
    assert parse_office_hours(" 08:30-12:00 , 14:00-17:30 ") == [
        (dt.time(8, 30), dt.time(12, 0)),
        (dt.time(14, 0), dt.time(17, 30)),
    ]

"""A simulated hall keeps its office hours (issue 20: the demo's staff 'office hours only',
no absences at 02:46): its staff sit at the windows only in the profile's office periods on
working days; a box started at night has its staff's last working days replayed through the
cameras' own pipelines (timeline, absences, alerts with snapshots, all in office time); and
the board and 离岗监测 say 非办公时间 while the hall is closed instead of showing absences.

Every clock here is fixed in the test (real elapsed time from a chosen moment), so nothing
depends on the time of day the tests run at.
"""

from __future__ import annotations

import datetime as dt
import random
import time

import pytest

from edge.app import build_box
from edge.config import load_box_config
from edge.presence import OfficeSchedule, parse_office_hours
from edge.presence.simulation import SimulatedStaff, office_days_before
from standard.calendar import WorkCalendar
from standard.records import LOCAL_TZ
from tests.boxes import write_box_folder
from tests.integration.test_box_pages import signed_in, text
from tests.integration.test_box_presence_pages import pages_of
from tests.integration.test_presence_box import profile_text

HOURS = parse_office_hours("08:30-12:00,14:00-17:30")  # the profile's (firmware_cfg/halls)
NIGHT = dt.datetime(2026, 11, 17, 2, 46, tzinfo=LOCAL_TZ)  # a Tuesday, before dawn
MONDAY, FRIDAY = dt.date(2026, 11, 16), dt.date(2026, 11, 13)


class ClockFrom:
    """Real elapsed time from ``start``."""

    def __init__(self, start: dt.datetime) -> None:
        self.start, self.t0 = start, time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=time.monotonic() - self.t0)


def _at(day: dt.date, clock: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(clock), LOCAL_TZ)


def test_simulated_staff_sit_at_the_windows_in_office_hours_only():
    schedule = OfficeSchedule(HOURS, WorkCalendar().is_workday)
    staff = SimulatedStaff([1, 2, 3, 4], random.Random("440605-01"),
                           long_away=dt.timedelta(minutes=2), schedule=schedule)
    for moment in (NIGHT, _at(MONDAY, "08:29:59"), _at(MONDAY, "12:30"),
                   _at(MONDAY, "17:30"), _at(MONDAY, "23:00"),
                   _at(dt.date(2026, 11, 14), "10:00")):   # a Saturday
        assert staff.occupied(moment) == set(), moment
    assert staff.occupied(_at(MONDAY, "08:30")) == {1, 2, 3, 4}   # at the desk at opening
    assert staff.occupied(_at(MONDAY, "14:00")) == {1, 2, 3, 4}   # and back after lunch
    seated = [staff.occupied(_at(MONDAY, "14:00") + dt.timedelta(seconds=s))
              for s in range(0, 3 * 3600, 5)]
    assert any(len(found) < 4 for found in seated), "staff step away in office hours too"
    assert office_days_before(schedule, NIGHT.date(), 2) == [FRIDAY, MONDAY]


def night_hall(folder, days: int):
    """A simulated hall (the demo's settings, ``days`` replayed) started, at 02:46 on a
    Tuesday; the caller stops it."""
    (folder / "hall.toml").write_text(profile_text([("cam-1", "0", [1, 2])]), encoding="utf-8")
    config = write_box_folder(folder, district_name="南海区", profile="hall.toml", simulate=True,
                              presence={"absent_after_minutes": 2, "leave_grace_seconds": 10,
                                        "simulated_history_days": days})
    box = build_box(load_box_config(config), clock=ClockFrom(NIGHT))
    box.store.open()
    box.start()
    return box


@pytest.fixture(scope="module")
def night_box(tmp_path_factory):
    box = night_hall(tmp_path_factory.mktemp("night-hall"), 2)
    yield box
    box.stop()


def _in_office(at: dt.datetime, day: dt.date) -> bool:
    local = at.astimezone(LOCAL_TZ)
    return local.date() == day and any(a <= local.time() <= b for a, b in HOURS)


def test_a_box_started_at_night_shows_its_last_working_days_in_office_time(night_box):
    presence = night_box.presence
    for day in (FRIDAY, MONDAY):
        spans = presence.timeline(day)
        assert sorted(spans) == [1, 2]
        for window, found in spans.items():
            assert found[0].started_at == _at(day, "08:30"), (window, found[0])
            assert all(_in_office(span.started_at, day) and _in_office(span.ended_at, day)
                       for span in found), (window, found)
            assert {span.state for span in found} == {"present", "absent"}
        absences = presence.absences(day)
        assert absences, "someone stayed away too long"
        for absence in absences:
            assert _in_office(absence.started_at, day) and absence.ended_at is not None
            assert len(absence.snapshots) == 2
        assert 0 < sum(presence.absence_minutes(day).values()) < 2 * 7 * 60
    assert presence.absences(dt.date(2026, 11, 14)) == []   # Saturday: closed
    assert presence.absences(NIGHT.date()) == []            # and nobody is missed at night
    opened = [dt.datetime.fromisoformat(row["opened_at"]) for row in night_box.store.query(
        "select opened_at from alerts where subject like 'window:%:absence:%'")]
    assert opened and all(_in_office(at, at.astimezone(LOCAL_TZ).date()) for at in opened)


def test_the_board_and_the_presence_page_say_the_hall_is_closed(night_box):
    assert night_box.presence.wait_for(lambda: night_box.presence.health().ok, 15.0)
    client = signed_in(pages_of(night_box), "manager")
    board = text(client.get("/"))
    assert 'id="office-closed"' in board and "工作日办公时间 08:30–12:00、14:00–17:30" in board
    assert board.count(">非办公时间</span>") == 2
    assert ">离岗</span>" not in board and ">在岗</span>" not in board
    page = text(client.get("/presence"))
    assert 'id="presence-closed"' in page and "现在是非办公时间" in page
    assert f'href="/presence?day={MONDAY.isoformat()}' in page   # 查看上一个工作日
    monday = text(client.get(f"/presence?day={MONDAY.isoformat()}"))
    assert "presence-closed" not in monday and "/presence/snapshots/" in monday
    assert "svg" in monday and "该日没有离岗记录" not in monday


def test_the_board_shows_presence_in_office_hours(tmp_path):
    (tmp_path / "hall.toml").write_text(profile_text([("cam-1", "0", [1, 2])]), encoding="utf-8")
    config = write_box_folder(tmp_path, district_name="南海区", profile="hall.toml",
                              simulate=True, presence={"simulated_history_days": 1})
    box = build_box(load_box_config(config), clock=ClockFrom(_at(MONDAY, "10:00")))
    box.store.open()
    box.start()
    try:
        assert box.presence.wait_for(lambda: {state for state, _ in
                                              box.presence.states().values()} == {"present"},
                                     15.0)
        board = text(signed_in(pages_of(box), "manager").get("/"))
        assert "office-closed" not in board and board.count(">在岗</span>") == 2
        assert box.presence.timeline(FRIDAY)   # the working day before Monday
    finally:
        box.stop()

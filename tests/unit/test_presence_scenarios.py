"""Whole-pipeline scenarios on generated clips (a real face photograph in a drawn hall).

Timelines are compressed: clips run at 1 or 2 frames a second (10 s a frame for the lunch
break), with thresholds of a minute, so each clip is a few hundred small frames.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from edge.presence.analyse import AnalysisResult, analyse_video
from edge.presence.ports import LOCAL_TZ
from edge.presence.tracker import TrackerSettings

# The repo root, for tests.presence_clips: pytest's pythonpath does not include it.
from tests.presence_clips import EVERY_DAY, MONDAY, OFFICE_HOURS, REGIONS, Segment, make_clip

ONE_MINUTE = TrackerSettings(absent_after=dt.timedelta(minutes=1))


def analyse(
    clip: Path, start: dt.datetime = MONDAY, tracker: TrackerSettings = ONE_MINUTE
) -> AnalysisResult:
    return analyse_video(
        clip,
        [region.roi for region in REGIONS],
        start,
        office_hours=OFFICE_HOURS,
        is_workday=EVERY_DAY,
        tracker=tracker,
    )


def seconds(at: dt.datetime, start: dt.datetime = MONDAY) -> float:
    return (at - start).total_seconds()


def states(result: AnalysisResult, window_no: int) -> list[tuple[str, float, float]]:
    window = result.windows[window_no - 1]
    return [(i.state, seconds(i.started_at), seconds(i.ended_at)) for i in window.intervals]


def test_present_staff_stay_present_and_an_empty_window_is_absent(tmp_path):
    result = analyse(make_clip(tmp_path / "present.avi", [Segment(90, present={1})], fps=2))
    assert states(result, 1) == [("present", 0, 89.5)]
    assert result.windows[0].alerts == []
    assert states(result, 2) == [("absent", 0, 89.5)]
    [alert] = result.windows[1].alerts
    assert (
        seconds(alert.started_at) == 0
        and seconds(alert.raised_at) == 60.5
        and alert.ended_at is None
    )


def test_staff_leaving_raise_an_alert_with_evidence_after_the_threshold(tmp_path):
    clip = make_clip(
        tmp_path / "absent.avi",
        [Segment(20, present={1}), Segment(90), Segment(10, present={1})],
        fps=2,
    )
    result = analyse(clip)
    [present, absent, back] = states(result, 1)
    assert present[0] == "present" and 18 <= present[2] <= 20
    assert absent == ("absent", present[2], absent[2]) and 110 <= absent[2] <= 112
    assert back[0] == "present"
    [alert] = result.windows[0].alerts
    assert alert.started_at == result.windows[0].intervals[1].started_at
    assert 60 < seconds(alert.raised_at, alert.started_at) <= 61
    assert alert.ended_at == result.windows[0].intervals[1].ended_at


def test_a_person_sitting_still_stays_present_with_few_checks(tmp_path):
    clip = make_clip(tmp_path / "still.avi", [Segment(180, present={1, 2}, still=True)], fps=1)
    result = analyse(clip)
    assert states(result, 1) == states(result, 2) == [("present", 0, 179)]
    assert result.windows[0].alerts == result.windows[1].alerts == []
    # 360 region-frames, checked only while the background settles.
    assert result.person_checks <= 20


def test_an_absence_shorter_than_the_threshold_is_an_interval_but_no_alert(tmp_path):
    clip = make_clip(
        tmp_path / "short.avi",
        [Segment(30, present={1}), Segment(50), Segment(30, present={1})],
        fps=2,
    )
    result = analyse(clip)
    assert [s for s, _, _ in states(result, 1)] == ["present", "absent", "present"]
    assert 48 <= states(result, 1)[1][2] - states(result, 1)[1][1] <= 52
    assert result.windows[0].alerts == []


def test_absence_across_lunch_counts_only_office_time(tmp_path):
    # 10 s a frame: 11:55-11:57 present, away over lunch, back at 14:04. Office time away:
    # 3 min before noon and 4 after 14:00, so the 5-minute alert comes at about 14:02.
    clip = make_clip(
        tmp_path / "lunch.avi",
        [Segment(120, present={1}), Segment(127 * 60), Segment(120, present={1})],
        fps=0.1,
    )
    start = dt.datetime(2026, 11, 2, 11, 55, tzinfo=LOCAL_TZ)
    result = analyse(clip, start, TrackerSettings())
    [alert] = result.windows[0].alerts
    local = alert.raised_at.astimezone(LOCAL_TZ).time()
    assert dt.time(14, 1, 30) <= local <= dt.time(14, 2, 30)
    assert alert.started_at.astimezone(LOCAL_TZ).time() <= dt.time(11, 57)
    assert alert.ended_at.astimezone(LOCAL_TZ).time() == dt.time(14, 4)


def test_lighting_changes_do_not_flip_anyone(tmp_path):
    clip = make_clip(
        tmp_path / "light.avi",
        [
            Segment(20, present={1}),
            Segment(20, present={1}, light=0.55),
            Segment(20, present={1}, light=1.3),
            Segment(20, present={1}),
        ],
        fps=2,
    )
    result = analyse(clip, tracker=TrackerSettings(absent_after=dt.timedelta(minutes=10)))
    assert states(result, 1) == [("present", 0, 79.5)]
    assert states(result, 2) == [("absent", 0, 79.5)]


def test_a_drifting_curtain_and_a_flickering_monitor_are_not_a_person(tmp_path):
    moving = {"curtain": True, "flicker": True}
    clip = make_clip(
        tmp_path / "curtain.avi", [Segment(20, present={1}, **moving), Segment(80, **moving)], fps=2
    )
    result = analyse(clip)
    [present, absent] = states(result, 1)
    assert present[0] == "present" and 18 <= present[2] <= 20 and absent[0] == "absent"
    assert states(result, 2) == [("absent", 0, 99.5)]
    assert len(result.windows[0].alerts) == len(result.windows[1].alerts) == 1
    assert result.person_checks >= 150  # the motion did trigger checks: they found nobody

"""``hallwatch edge analyse-video`` on a generated clip: text, JSON, and the user's mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.presence.cli import analyse_video

# The repo root, for tests.presence_clips: pytest's pythonpath does not include it.
from tests.presence_clips import ROI_ARGS, Segment, make_clip

START = "2026-11-02T09:00:00+08:00"  # a Monday, a workday in the official calendar


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    # Window 1 staffed for 20 s, then empty; window 2 empty throughout. 2 frames a second.
    folder = tmp_path_factory.mktemp("clips")
    return make_clip(folder / "hall.avi", [Segment(20, present={1}), Segment(70)], fps=2)


def run(*args: str):
    return CliRunner().invoke(analyse_video, [str(arg) for arg in args])


def roi_options() -> list[str]:
    return [part for roi in ROI_ARGS for part in ("--roi", roi)]


def test_json_output_lists_intervals_and_alerts_per_window(clip):
    result = run(clip, *roi_options(), "--absent-after-minutes", "1", "--start", START, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["version"] == 1 and report["frames"] == 180 and report["clip_fps"] == 2
    assert report["office_hours"] == ["08:30-12:00", "14:00-17:30"]
    assert report["absent_after_seconds"] == 60 and report["calendar_problems"] == []
    first, second = report["windows"]
    assert first["roi"] == [10, 30, 140, 190]
    assert [i["state"] for i in first["intervals"]] == ["present", "absent"]
    assert first["intervals"][0]["started_at"] == START
    [alert] = first["alerts"]
    assert alert["started_at"] == first["intervals"][1]["started_at"] and alert["ended_at"] is None
    assert [i["state"] for i in second["intervals"]] == ["absent"]
    assert second["alerts"][0]["raised_at"] == "2026-11-02T09:01:00.500000+08:00"


def test_text_output_reads_like_a_report(clip):
    result = run(
        clip, *roi_options(), "--absent-after-minutes", "1", "--start", "2026-11-02T09:00:00"
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        "180 frames at 2 fps, 2026-11-02 09:00:00 to 2026-11-02 09:01:30; 180 analysed" in lines[0]
    )
    assert "window 1 (ROI 10,30,140,190)" in lines
    assert "  present  2026-11-02 09:00:00 - 2026-11-02 09:00:19  (0 min 20 s)" in lines
    assert any(
        line.startswith("  ALERT 离岗 ") and "still absent at the end of the clip" in line
        for line in lines
    )


def test_outside_office_hours_nothing_is_alerted(clip):
    result = run(
        clip,
        *roi_options(),
        "--absent-after-minutes",
        "1",
        "--start",
        START,
        "--office-hours",
        "14:00-17:30",
        "--json",
    )
    report = json.loads(result.output)
    assert all(window["alerts"] == [] for window in report["windows"])


def test_a_year_the_calendar_does_not_know_is_reported_not_guessed(clip):
    result = run(
        clip,
        *roi_options(),
        "--absent-after-minutes",
        "1",
        "--start",
        "2099-11-02T09:00:00+08:00",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["calendar_problems"] and all(
        window["alerts"] == [] for window in report["windows"]
    )
    every_day = run(
        clip,
        *roi_options(),
        "--absent-after-minutes",
        "1",
        "--start",
        "2099-11-02T09:00:00+08:00",
        "--every-day",
        "--json",
    )
    assert all(window["alerts"] for window in json.loads(every_day.output)["windows"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--roi", "10,30,140", "--start", START], "expected X,Y,W,H"),
        (
            ["--roi", "300,30,140,190", "--start", START],
            "window 1: ROI [300, 30, 140, 190] does not fit in the camera's 320x240 frame",
        ),
        (
            ["--roi", ROI_ARGS[0], "--office-hours", "17:30-08:30", "--start", START],
            "start must come before the end",
        ),
        (["--roi", ROI_ARGS[0], "--start", "yesterday"], "expected an ISO date and time"),
    ],
)
def test_mistakes_get_a_message_that_names_the_fix(clip, args, message):
    result = run(clip, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_file_that_is_not_a_video(tmp_path):
    junk = tmp_path / "notes.avi"
    junk.write_text("not a video")
    result = run(junk, "--roi", "0,0,32,32", "--start", START)
    assert result.exit_code == 1 and "not a video file OpenCV can read" in result.output


def test_help_names_every_option():
    result = run("--help")
    for option in (
        "--roi",
        "--absent-after-minutes",
        "--office-hours",
        "--start",
        "--json",
        "--every-day",
    ):
        assert option in result.output

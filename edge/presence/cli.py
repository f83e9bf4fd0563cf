"""``hallwatch edge analyse-video``: presence intervals and absence alerts of a recorded clip.

The command only parses its options, calls ``analyse_video`` and prints the result; the
``edge`` group adds it with ``edge.add_command(analyse_video)``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from edge.presence.analyse import analyse_video as run_analysis
from edge.presence.analyse import format_text
from edge.presence.detector import DetectorError
from edge.presence.ports import LOCAL_TZ, Roi
from edge.presence.sources import SourceError
from edge.presence.tracker import TrackerSettings, parse_office_hours
from standard.calendar import WorkCalendar


def _rois(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[Roi]:
    try:
        return [Roi.parse(value) for value in values]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _office_hours(
    ctx: click.Context, param: click.Parameter, value: str
) -> list[tuple[dt.time, dt.time]]:
    try:
        return parse_office_hours(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _start(ctx: click.Context, param: click.Parameter, value: str) -> dt.datetime:
    try:
        start = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: expected an ISO date and time, e.g. 2026-11-02T09:00:00+08:00"
        ) from None
    return start if start.tzinfo else start.replace(tzinfo=LOCAL_TZ)


@click.command("analyse-video")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--roi",
    "rois",
    multiple=True,
    required=True,
    metavar="X,Y,W,H",
    callback=_rois,
    help="A window's region in pixels of the full frame; repeat for each window (1, 2, ...).",
)
@click.option(
    "--absent-after-minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Office time absent before an absence alert.",
)
@click.option(
    "--office-hours",
    default="08:30-12:00,14:00-17:30",
    show_default=True,
    callback=_office_hours,
    help="Office periods in local time (+08:00); the gaps between them (lunch) do not count.",
)
@click.option(
    "--start",
    required=True,
    metavar="ISO-DATETIME",
    callback=_start,
    help="When the clip's first frame was taken; +08:00 if no offset is given.",
)
@click.option(
    "--every-day",
    is_flag=True,
    help="Count every day as a workday instead of following the official calendar.",
)
@click.option(
    "--fps",
    type=click.FloatRange(min=0.1, max=60),
    default=5.0,
    show_default=True,
    help="Frames analysed per second of clip (the box's live rate).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def analyse_video(
    file: Path,
    rois: list[Roi],
    absent_after_minutes: float,
    office_hours: list[tuple[dt.time, dt.time]],
    start: dt.datetime,
    every_day: bool,
    fps: float,
    as_json: bool,
) -> None:
    """Print the presence intervals and absence alerts (离岗) of each window in a recorded clip.

    The clip keeps its own timeline: frame i was taken at START + i / (the clip's fps).
    """
    is_workday = (lambda day: True) if every_day else WorkCalendar().is_workday
    tracker = TrackerSettings(absent_after=dt.timedelta(minutes=absent_after_minutes))
    try:
        result = run_analysis(
            file,
            rois,
            start,
            office_hours=office_hours,
            is_workday=is_workday,
            tracker=tracker,
            fps=fps,
        )
    except (SourceError, DetectorError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_text(result))

"""``hallwatch edge press`` and ``hallwatch edge ratings``: evaluations from a shell.

``press`` records a key press through the same recording service as the real keys (for
technicians checking a window, and for the demo); ``ratings`` prints the counts per window,
staff member and department. Both are thin: parse, call one library function, print.

Example::

    hallwatch edge press --db data/box.db --window 3 --level 5
    hallwatch edge ratings --config box.toml --since 2026-11-01
"""

from __future__ import annotations

import datetime as dt
import json

import click

from edge.config import EvaluationSection
from edge.evaluations.followups import AWAITING_CALL, INVALIDATED, RECTIFIED, RECTIFYING
from edge.evaluations.ratings import KeyPress
from edge.evaluations.report import GROUPS, rating_report
from edge.evaluations.tables import ensure_schema
from edge.evaluations.wiring import build_evaluations
from edge.options import Target, columns, parse_at, target_options
from edge.profile import THREE_LEVELS, HardwareProfile, ProfileError, load_profile
from edge.store import Store
from standard.evaluations import LEVEL_NAMES
from standard.records import LOCAL_TZ


def _profile(target: Target) -> HardwareProfile | None:
    if target.config is None or target.config.profile is None:
        return None
    try:
        return load_profile(target.config.path(target.config.profile))
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from None


def _open(target: Target) -> Store:
    store = target.store()
    store.write(ensure_schema)
    return store


@click.command()
@target_options
@click.option("--window", "window_no", type=click.IntRange(1, 999), required=True,
              help="Window number (窗口号).")
@click.option("--level", type=click.IntRange(1, 5), required=True,
              help="5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意.")
@click.option("--at", "at_text", help="When it was pressed, ISO date-time (default: now).")
def press(target: Target, window_no: int, level: int, at_text: str | None) -> None:
    """Record one evaluator key press, as if a citizen pressed it (technicians, demo).

    With --config, the window must be in the box's hardware profile and a three-key window
    only takes levels 4, 3 and 2.
    """
    profile = _profile(target)
    if profile is not None:
        try:
            window = profile.window(window_no)
        except KeyError:
            raise click.BadParameter(f"窗口 {window_no} 不在硬件配置中 (not in the profile)",
                                     param_hint="--window") from None
        if window.evaluator == "three" and level not in THREE_LEVELS:
            raise click.BadParameter(f"窗口 {window_no} 是三键评价器，只有 4/3/2 级 "
                                     "(three-key evaluator: levels 4, 3, 2)", param_hint="--level")
    policy = target.config.evaluations if target.config else EvaluationSection()
    store = _open(target)
    try:
        ratings = build_evaluations(store, target.calendar(), policy, profile).ratings
        outcome = ratings.record_press(KeyPress.new(window_no, level, parse_at(at_text)))
    finally:
        store.close()
    click.echo(f"已记录评价 #{outcome.rating_id}：窗口 {window_no}，{level} {LEVEL_NAMES[level]}")
    if outcome.armed:
        click.echo(f"  关联办件 {outcome.case_no}，工作人员 {outcome.staff_id or '-'}，"
                   f"部门 {outcome.dept_code or '-'}；窗口已解除待评价")
    else:
        click.echo(f"  窗口未处于待评价状态：记在窗口和在岗人员 {outcome.staff_id or '-'} 名下 (armed = 0)")
    if not outcome.counted:
        click.echo(f"  同一办件的重复评价（首次评价 #{outcome.repeat_of}），保留但不计入统计")
    if outcome.followup_opened:
        click.echo("  差评：已生成回访整改任务")


@click.command()
@target_options
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Only ratings from this local date on (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def ratings(target: Target, since: dt.datetime | None, as_json: bool) -> None:
    """Rating counts per window, staff and department: levels, satisfaction rate (4–5 over
    counted), bad reviews and their follow-up state."""
    store = _open(target)
    try:
        report = rating_report(store, since=since.date() if since else None,
                               today=dt.datetime.now(LOCAL_TZ).date())
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    click.echo(f"统计起始 since: {report['since'] or '全部 all'}    统计日 today: {report['today']}")
    titles = {"windows": "窗口 window", "staff": "工作人员 staff", "departments": "部门 department"}
    widths = (22, 6, 6, 5, 5, 5, 5, 5, 9, 6, 8, 8, 8, 8, 6, 6)
    for name, _ in GROUPS:
        click.echo(f"\n== {titles[name]} ==")
        click.echo(columns(("", "总数", "计入", "5", "4", "3", "2", "1", "满意率", "差评", "待回访",
                            "整改中", "已整改", "已撤销", "超期", "重复", "无效"), widths))
        for e in report[name]:
            rate = "-" if e["satisfaction"] is None else f"{e['satisfaction'] * 100:.1f}%"
            follow = e["followups"]
            who = f"{e['key']}" + (f" {e['label']}" if e["label"] else "")
            click.echo(columns(
                (who, str(e["total"]), str(e["counted"]),
                 *(str(e["levels"][str(level)]) for level in range(5, 0, -1)), rate, str(e["bad"]),
                 *(str(follow[state]) for state in (AWAITING_CALL, RECTIFYING, RECTIFIED,
                                                    INVALIDATED)),
                 str(follow["overdue"]), str(e["repeats"]), str(e["invalid"])), widths))
        if not report[name]:
            click.echo("（无评价 no ratings）")


COMMANDS = (press, ratings)

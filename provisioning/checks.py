"""The self-test's small checks: clock, working-day calendar, disk. Each returns a ``Check``.

They take what they judge as arguments (the time, the last record's time, the calendar), so
they are tested without a box; ``provisioning/selftest.py`` gathers the arguments.

Example::

    >>> import datetime as dt
    >>> now = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.timezone.utc)
    >>> check_clock(now, now + dt.timedelta(days=2)).status
    'fail'
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from edge.relay import MIN_FREE_DISK
from edge.store import CLOCK_SLACK, EARLIEST_YEAR
from edge.storeschema import get_meta
from standard.calendar import WorkCalendar
from standard.records import LOCAL_TZ

LOW_DISK = 1024**3  # below this, warn: a week without the hub needs room for the outbox
YEAR = dt.timedelta(days=366)
LATEST_PLAUSIBLE_YEAR = EARLIEST_YEAR + 30


@dataclass
class Check:
    """One line of the self-test report."""

    name: str  # key, camera, region, clock, calendar, disk, hub
    status: Literal["ok", "warn", "fail", "skip"]
    title: str
    detail: str
    data: dict = field(default_factory=dict)


def last_record_time(db_path: Path) -> dt.datetime | None:
    """When the box stamped its last record (``meta.last_stamp``), or None for a new box."""
    if not db_path.exists():
        return None
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        text = get_meta(conn, "last_stamp")
        if text is None:
            text = conn.execute("select max(created_at) from outbox").fetchone()[0]
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.close()
    return dt.datetime.fromisoformat(text) if text else None


def check_clock(now: dt.datetime, last_record: dt.datetime | None) -> Check:
    """The clock is not before the box's last record, and not years off."""
    data = {"now": now.isoformat(timespec="seconds"),
            "last_record": last_record.isoformat(timespec="seconds") if last_record else None}
    title = "时钟 (clock)"
    local = now.astimezone(LOCAL_TZ)
    if not EARLIEST_YEAR <= now.year <= LATEST_PLAUSIBLE_YEAR:
        detail = (f"时钟读数 {local:%Y-%m-%d %H:%M}，相差数年：请检查 RTC 电池和 NTP (the clock "
                  f"reads {now.year}: check the RTC battery and NTP)")
        return Check("clock", "fail", title, detail, data)
    if last_record is not None and now < last_record - CLOCK_SLACK:
        detail = (f"时钟 {local:%Y-%m-%d %H:%M} 早于最后一条记录 "
                  f"{last_record.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}：时钟被调回，新记录将沿用旧时间 "
                  "(the clock is before the last record: fix the time before serving)")
        return Check("clock", "fail", title, detail, data)
    if last_record is not None and now > last_record + YEAR:
        detail = (f"时钟 {local:%Y-%m-%d} 比最后一条记录晚一年以上，请确认日期 (the clock is more "
                  "than a year after the last record: check the date)")
        return Check("clock", "warn", title, detail, data)
    return Check("clock", "ok", title, f"时钟 {local:%Y-%m-%d %H:%M} (+08:00) 正常", data)


def check_calendar(today: dt.date, calendar: WorkCalendar) -> Check:
    """This year must be known (deadlines fail closed without it); next year should be."""
    known = calendar.known_years()
    this_year, next_year = today.year, today.year + 1
    data = {"this_year": this_year in known, "next_year": next_year in known}
    title = "工作日历 (working-day calendar)"
    if this_year not in known:
        detail = (f"工作日历不含 {this_year} 年：时限无法计算，办件将亮“日历缺失”红灯；请安装"
                  f"市中心的日历覆盖文件 (the calendar does not know {this_year})")
        return Check("calendar", "fail", title, detail, data)
    if next_year not in known:
        detail = (f"工作日历不含下一年 {next_year} 年：年底前需由市中心下发 (hub publish --kind "
                  f"calendar) (next year, {next_year}, is not in the calendar yet)")
        return Check("calendar", "warn", title, detail, data)
    return Check("calendar", "ok", title, f"覆盖 {this_year}、{next_year} 年", data)


def check_disk(folder: Path) -> Check:
    """Free space where the box keeps its database."""
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    data = {"path": str(probe), "free_bytes": usage.free, "total_bytes": usage.total}
    free = f"{usage.free / 1024**3:.1f} GiB / {usage.total / 1024**3:.1f} GiB"
    title = "磁盘空间 (disk space)"
    if usage.free < MIN_FREE_DISK:
        return Check("disk", "fail", title, f"{probe} 可用 {free}：空间不足，箱体将拒收新报送 "
                     "(disk almost full)", data)
    if usage.free < LOW_DISK:
        return Check("disk", "warn", title, f"{probe} 可用 {free}：偏少 (less than 1 GiB free)",
                     data)
    return Check("disk", "ok", title, f"{probe} 可用 {free}", data)

"""A made-up district platform that cannot push the standard: its 中间库 and its exports.

The "示例区审批平台" writes each case step as a row of ``t_bj_hjxx`` (办件环节信息) in its own
layout: pinyin column abbreviations, its own codes for steps and case types, local times
without an offset, no event id (a row is identified by case number and step number). Its
mapping is ``firmware_cfg/mapping-example.toml`` (shown in full in docs/integration.md).

The demo feeds one district through this 中间库 (a SQLite file) and one through CSV exports
in a drop folder; the tests and ``bench/bench_pull.py`` use it on SQLite and PostgreSQL.

Example::

    exchange = Exchange("sqlite:///exchange.db")
    exchange.create()
    exchange.insert(Platform("440607").backlog(start, 5, 10))
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from standard.records import LOCAL_TZ

MAPPING_FILE = Path(__file__).resolve().parents[1] / "firmware_cfg" / "mapping-example.toml"
STEP_CODES = {"申请": "01", "受理": "02", "承办": "03", "审核": "04", "批准": "05", "办结": "06",
              "补正开始": "11", "补正结束": "12", "特别程序开始": "13", "特别程序结束": "14",
              "延期": "15", "不予受理": "21", "不予许可": "22", "退回": "23", "收费": "31",
              "分送": "41", "反馈": "42"}
CASE_TYPE_CODES = {"即办件": "1", "承诺件": "2", "联办件": "3", "上报件": "4", "补办件": "5",
                   "答复件": "6"}
COLUMNS = ("xh", "sblsh", "hjxh", "sxbm", "bmdm", "xzqh", "hjdm", "clsj", "blrgh", "blrxm",
           "ckh", "yj", "sfje", "bjlx", "tbcx", "yqts", "fsbm")

metadata = sa.MetaData()
steps = sa.Table(
    "t_bj_hjxx", metadata,
    sa.Column("xh", sa.BigInteger, primary_key=True, autoincrement=False),  # 序号: only grows
    sa.Column("sblsh", sa.String(64), nullable=False),  # 申办流水号
    sa.Column("hjxh", sa.Integer, nullable=False),  # 环节序号 within the case
    sa.Column("sxbm", sa.String(64), nullable=False),  # 事项编码
    sa.Column("bmdm", sa.String(64), nullable=False),  # 部门代码
    sa.Column("xzqh", sa.String(6), nullable=False),  # 行政区划
    sa.Column("hjdm", sa.String(2), nullable=False),  # 环节代码
    sa.Column("clsj", sa.DateTime, nullable=False),  # 处理时间, local, no offset
    sa.Column("blrgh", sa.String(32), nullable=False),  # 办理人工号
    sa.Column("blrxm", sa.String(50), nullable=False),  # 办理人姓名
    sa.Column("ckh", sa.Integer),  # 窗口号
    sa.Column("yj", sa.Text),  # 意见 (reasons)
    sa.Column("sfje", sa.Numeric(12, 2)),  # 收费金额
    sa.Column("bjlx", sa.String(1)),  # 办件类型
    sa.Column("tbcx", sa.String(10)),  # 特别程序
    sa.Column("yqts", sa.Integer),  # 延期天数
    sa.Column("fsbm", sa.String(64)),  # 分送部门
)


class PlatformRows:
    """Standard events as the platform's rows: numbered, coded, local naive times."""

    def __init__(self, first_xh: int = 1):
        self.next_xh = first_xh
        self.steps: dict[str, int] = {}

    def row(self, event: dict[str, Any]) -> dict[str, Any]:
        step = self.steps[event["case_no"]] = self.steps.get(event["case_no"], 0) + 1
        at = dt.datetime.fromisoformat(event["occurred_at"]).astimezone(LOCAL_TZ)
        row = {"xh": self.next_xh, "sblsh": event["case_no"], "hjxh": step,
               "sxbm": event["item_code"], "bmdm": event["dept_code"],
               "xzqh": event["district_code"], "hjdm": STEP_CODES[event["event_type"]],
               "clsj": at.replace(tzinfo=None), "blrgh": event["actor"]["id"],
               "blrxm": event["actor"]["name"], "ckh": event.get("window_no"),
               "yj": event.get("reason"),
               "sfje": Decimal(event["fee_amount"]) if "fee_amount" in event else None,
               "bjlx": CASE_TYPE_CODES.get(event.get("case_type", "")),
               "tbcx": event.get("procedure_kind"), "yqts": event.get("extension_days"),
               "fsbm": event.get("to_dept_code")}
        self.next_xh += 1
        return row

    def rows(self, events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.row(event) for event in events]


class Exchange:
    """The platform's 中间库 at a SQLAlchemy URL: the table, and rows written into it."""

    def __init__(self, url: str):
        self.engine = sa.create_engine(url)
        self.rows = PlatformRows()

    def create(self) -> None:
        metadata.create_all(self.engine)
        with self.engine.connect() as conn:
            last = conn.execute(sa.select(sa.func.max(steps.c.xh))).scalar()
        self.rows.next_xh = (last or 0) + 1

    def insert(self, events: Iterable[dict[str, Any]], chunk: int = 5000) -> int:
        """Write the events as rows, committed in chunks; returns how many."""
        written, batch = 0, []
        for event in events:
            batch.append(self.rows.row(event))
            if len(batch) >= chunk:
                written += self._commit(batch)
                batch = []
        return written + (self._commit(batch) if batch else 0)

    def _commit(self, batch: list[dict[str, Any]]) -> int:
        with self.engine.begin() as conn:
            conn.execute(steps.insert(), batch)
        return len(batch)

    def close(self) -> None:
        self.engine.dispose()


def export_csv(rows: list[dict[str, Any]], encoding: str = "gb18030") -> bytes:
    """The platform's CSV export of rows, as Chinese Excel saves it (GB18030 by default)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if row[c] is None else
                         row[c].strftime("%Y-%m-%d %H:%M:%S") if isinstance(row[c], dt.datetime)
                         else row[c] for c in COLUMNS])
    return out.getvalue().encode(encoding)


def drop_export(folder: Path, name: str, rows: list[dict[str, Any]],
                encoding: str = "gb18030") -> Path:
    """Write an export into a drop folder as a platform should: the file, then ``.ok``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    partial = folder / f".{name}.part"
    partial.write_bytes(export_csv(rows, encoding))
    partial.replace(path)
    path.with_name(path.name + ".ok").write_bytes(b"")
    return path

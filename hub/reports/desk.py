"""Stored monthly reports and the hub's own writer of them.

Every report ever generated is kept (``monthly_reports``): one per (month, unit, score
version), so a correction of a month's scores brings a new report beside the old one. The
content is JSON (hub/reports/content.py); the PDF, when Chromium could render it, is stored
as base64 text (portable across SQLite and PostgreSQL), otherwise ``pdf_error`` says why.

:class:`ReportWriter` is a listener of the score scheduler (hub/score_scheduler.py): after
every tick it wakes its own thread (printing PDFs takes seconds; the scheduler must not wait),
which writes the reports of every published month version that has none yet. A month
published on the dashboard pokes the scheduler, so its reports follow within seconds; one
published by ``hallwatch hub publish-scores`` (another process) at the next tick.

The table is created by migration 7 (hub/storage/migrations.py); a change needs a new one.

Example::

    desk = ReportDesk(store, clock)
    ReportWriter(desk, data, book, render_pdf).write_due()   # [(month, unit, version), ...]
    desk.history(Scope.district("440605"))                    # its own and the city's
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.reports.content import CITY, report_content
from hub.scorebook import Scorebook
from hub.services import HubData, NotFound, Scope
from hub.units import unit_registry

log = logging.getLogger(__name__)

SCHEMA = """
create table if not exists monthly_reports (
    id integer primary key, month text not null, unit_code text not null,
    score_version integer not null, generated_at text not null, generated_by text not null,
    content text not null, pdf text, pdf_error text,
    unique (month, unit_code, score_version));
"""
AUTOMATIC = "(自动)"
# reports' contents -> their PDFs, in one browser session; raises PdfUnavailable (in Chinese)
PdfRenderer = Callable[[list[dict[str, Any]]], list[bytes]]


class PdfUnavailable(RuntimeError):
    """The PDF could not be rendered (no Chromium, no Playwright); the message says why."""


@dataclass(frozen=True)
class Report:
    id: int
    month: str
    unit_code: str
    score_version: int
    generated_at: str
    generated_by: str
    has_pdf: bool
    pdf_error: str | None

    @property
    def unit_name(self) -> str:
        return "全市" if self.unit_code == CITY else unit_registry().get(self.unit_code,
                                                                        self.unit_code)

    @property
    def title(self) -> str:
        year, month = self.month.split("-")
        return f"{self.unit_name}{year}年{int(month)}月电子监察报告"


_COLUMNS = ("id, month, unit_code, score_version, generated_at, generated_by,"
            " pdf is not null as has_pdf, pdf_error")


def visible_units(scope: Scope) -> list[str] | None:
    """The report units a scope reads: all (None) for the city; a district's own and the
    city's; a department's district's and the city's (a suffix-only one: the city's)."""
    if scope.is_city:
        return None
    return [CITY, *scope.districts]


class ReportDesk:
    def __init__(self, store, clock: Callable[[], dt.datetime]):
        self.store = store
        self.clock = clock

    def exists(self, month: str, unit: str, version: int) -> bool:
        return bool(self.store.query("select 1 as x from monthly_reports where month = ? and"
                                     " unit_code = ? and score_version = ?",
                                     (month, unit, version)))

    def save(self, month: str, unit: str, version: int, content: dict[str, Any],
             pdf: bytes | None, pdf_error: str | None, *, user: str = AUTOMATIC) -> int | None:
        """Store a report; None when that (month, unit, version) has one already."""
        at = self.clock().astimezone(dt.timezone.utc).isoformat(timespec="seconds")
        with self.store.transaction() as conn:
            row = conn.execute(
                "insert into monthly_reports (month, unit_code, score_version, generated_at,"
                " generated_by, content, pdf, pdf_error) values (?, ?, ?, ?, ?, ?, ?, ?)"
                " on conflict (month, unit_code, score_version) do nothing returning id",
                (month, unit, version, at, user, json.dumps(content, ensure_ascii=False),
                 base64.b64encode(pdf).decode("ascii") if pdf else None, pdf_error)).fetchone()
        return row[0] if row else None

    def history(self, scope: Scope) -> list[Report]:
        """Every report the scope may read, newest month first, the city's first."""
        units = visible_units(scope)
        sql = f"select {_COLUMNS} from monthly_reports"
        params: tuple = ()
        if units is not None:
            sql += f" where unit_code in ({', '.join('?' * len(units))})"
            params = tuple(units)
        rows = self.store.query(sql + " order by month desc, score_version desc, unit_code",
                                params)
        reports = [Report(**{**row, "has_pdf": bool(row["has_pdf"])}) for row in rows]
        return sorted(reports, key=lambda r: (r.month, r.score_version, r.unit_code == CITY),
                      reverse=True)

    def get(self, scope: Scope, report_id: int) -> tuple[Report, dict[str, Any]]:
        """A report and its content; NotFound when missing or outside the scope."""
        rows = self.store.query(f"select {_COLUMNS}, content from monthly_reports where id = ?",
                                (report_id,))
        units = visible_units(scope)
        if not rows or (units is not None and rows[0]["unit_code"] not in units):
            raise NotFound(f"report {report_id}")
        row = rows[0]
        content = json.loads(row.pop("content"))
        return Report(**{**row, "has_pdf": bool(row["has_pdf"])}), content

    def pdf(self, scope: Scope, report_id: int) -> bytes | None:
        self.get(scope, report_id)  # the scope check
        rows = self.store.query("select pdf from monthly_reports where id = ?", (report_id,))
        return base64.b64decode(rows[0]["pdf"]) if rows[0]["pdf"] else None


class ReportWriter:
    """Writes the reports of published months that have none (see the module docstring)."""

    def __init__(self, desk: ReportDesk, data: HubData, book: Scorebook,
                 render_pdf: PdfRenderer | None):
        self.desk = desk
        self.data = data
        self.book = book
        self.render_pdf = render_pdf
        self.listeners: list[Callable[[list[tuple[str, str, int]]], None]] = []
        self._due = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __call__(self, _written=None) -> None:
        """A ScoreScheduler listener: write what is due on the writer's own thread."""
        with self._lock:
            self._due.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="hub-reports",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._due.is_set():
                    return
                self._due.clear()
            try:
                written = self.write_due()
            except Exception:  # noqa: BLE001 - the hub keeps running whatever happens here
                log.exception("writing monthly reports failed")
                written = []
            for listener in self.listeners:
                listener(written)

    def due(self) -> list[tuple[Any, str]]:
        """(run, unit) of every report not written yet: the newest published version of each
        published month, for the city and each unit."""
        due = []
        for run in self.book.runs(published_only=True):
            newest = self.book.current(run.month, published_only=True)
            if newest is None or newest.version != run.version:
                continue  # only the month's newest published version gets reports
            due += [(run, unit) for unit in [CITY, *unit_registry()]
                    if not self.desk.exists(run.month, unit, run.version)]
        return due

    def write_due(self) -> list[tuple[str, str, int]]:
        """Write the due reports now (on the caller's thread); returns (month, unit, version)."""
        due = self.due()
        contents = [report_content(self.data, self.book, run, unit) for run, unit in due]
        pdfs, error = self._pdfs(contents)
        written = []
        for (run, unit), content, pdf in zip(due, contents, pdfs):
            if self.desk.save(run.month, unit, run.version, content, pdf, error):
                log.info("monthly report %s %s (version %d) written", run.month, unit,
                         run.version)
                written.append((run.month, unit, run.version))
        return written

    def _pdfs(self, contents: list[dict[str, Any]]) -> tuple[list[bytes | None], str | None]:
        if not contents:
            return [], None
        if self.render_pdf is None:
            return [None] * len(contents), "本机未配置 PDF 生成（可使用 HTML 打印或下载 XLSX）"
        try:
            return list(self.render_pdf(contents)), None
        except PdfUnavailable as exc:
            return [None] * len(contents), str(exc)

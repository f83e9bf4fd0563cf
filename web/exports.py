"""Spreadsheet downloads shared by the box and hub pages.

Every text cell goes through :func:`spreadsheet_safe` first: a cell that a spreadsheet would
read as a formula (``=HYPERLINK(...)`` typed into an actor's name, a department's name from a
platform) gets a leading ``'``, as OWASP advises for CSV injection, in CSV and XLSX alike.
Numbers stay numbers (``-3`` remaining days is a value, not a formula).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice

from flask import Blueprint, Response, stream_with_context

from web.auth import login_required

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CHUNK_ROWS = 1000
# What starts a formula in Excel, LibreOffice or WPS (OWASP "CSV Injection"): = + - @, and a
# tab or carriage return, which some of them skip before looking for one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """``value`` as a spreadsheet shows it, never run: formula-like text gets a leading ``'``.

    >>> spreadsheet_safe("=1+2"), spreadsheet_safe("@SUM(A1)")
    ("'=1+2", "'@SUM(A1)")
    >>> spreadsheet_safe(-3), spreadsheet_safe("王芳")
    (-3, '王芳')
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Iterable) -> list:
    """A row with every cell made :func:`spreadsheet_safe`."""
    return [spreadsheet_safe(value) for value in row]


def csv_response(header: Sequence[str], rows: Iterable[Sequence], filename: str) -> Response:
    """CSV as a streamed download, after a BOM so that Excel opens the UTF-8 as Chinese."""
    return Response(stream_with_context(csv_chunks(header, rows)), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """The BOM, then CSV text a chunk of rows at a time (large exports are never all in memory)."""
    yield "\ufeff"
    rows = iter(rows)
    chunk = [safe_row(header)]
    while chunk:
        buffer = io.StringIO()
        csv.writer(buffer).writerows(chunk)
        yield buffer.getvalue()
        chunk = [safe_row(row) for row in islice(rows, CSV_CHUNK_ROWS)]


def xlsx_response(sheet_name: str, header: Sequence[str], rows: Iterable[Sequence],
                  filename: str) -> Response:
    """One-sheet XLSX (write-only, so large exports stay small in memory) as a download."""
    return xlsx_book_response([(sheet_name, header, rows)], filename)


def xlsx_book_response(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence]]],
                       filename: str) -> Response:
    """Several sheets, each (name, header, rows), as one XLSX download; cells made safe."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for name, header, rows in sheets:
        sheet = book.create_sheet(name)
        sheet.append(safe_row(header))
        for row in rows:
            sheet.append(safe_row(row))
    data = io.BytesIO()
    book.save(data)
    return Response(data.getvalue(), mimetype=XLSX_MIMETYPE,
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


def register_downloads(bp: Blueprint, path: str, *, sheet: str, header: Sequence[str],
                       rows: Callable[[], Iterable[Sequence]], filename: Callable[[str], str],
                       roles: Sequence[str]) -> None:
    """``path.csv`` and ``path.xlsx`` on ``bp`` (endpoints ``as_csv`` and ``as_xlsx``).

    ``rows()`` and ``filename(extension)`` are called inside the request, so they may read
    its arguments and the signed-in user's scope.
    """

    @bp.get(f"{path}.csv", endpoint="as_csv")
    @login_required(roles=tuple(roles))
    def as_csv() -> Response:
        return csv_response(header, rows(), filename("csv"))

    @bp.get(f"{path}.xlsx", endpoint="as_xlsx")
    @login_required(roles=tuple(roles))
    def as_xlsx() -> Response:
        return xlsx_response(sheet, header, rows(), filename("xlsx"))

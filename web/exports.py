"""Spreadsheet downloads shared by the box and hub pages."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from flask import Response

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(sheet_name: str, header: Sequence[str], rows: Iterable[Sequence],
                  filename: str) -> Response:
    """One-sheet XLSX (write-only, so large exports stay small in memory) as a download."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    return Response(data.getvalue(), mimetype=XLSX_MIMETYPE,
                    headers={"Content-Disposition": f"attachment; filename={filename}"})

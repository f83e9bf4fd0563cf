"""The same history loaded by file and by HTTP gives the same alerts.

One box folder loads it the way a technician backfills a hall: ``hallwatch edge ingest`` then
``hallwatch edge check``, real commands on a real SQLite file. Another runs ``hallwatch edge
serve`` and the platform posts the same records over HTTP; its background checker judges them.
Finished cases (no 受理, a refusal without reason, finished late, a wrong fee), an open overdue
case, a joint case whose participating department is late, and an item the catalogue does not
know: every alert (subject, rule, level, department, card, detail) must be identical. A third
folder loads the file with ``edge ingest`` and then starts ``edge serve`` without a check, as a
box restarted after a backfill: it must find the same alerts by itself; a fourth gets the
platform's own CSV export in its drop folder.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from hallwatch.sim import catalogue_for
from standard.records import LOCAL_TZ
from tests.boxes import REPO, start_box, write_box_folder
from tests.integration.relay_harness import wait_for

SCJ, FGJ, ZJJ, JTJ = "440605SCJ", "440605FGJ", "440605ZJJ", "440605JTJ"
PLAIN, FEE, JOINT = "440605-SCJ-001", "440605-MZJ-006", "440605-FGJ-010"


def catalogue() -> dict:
    document = catalogue_for("440605")
    for item in document["items"]:
        if item["item_code"] == JOINT:
            item["joint_depts"] = [{"dept_code": ZJJ, "dept_name": "住房和城乡建设局", "days": 15},
                                   {"dept_code": JTJ, "dept_name": "交通运输局", "days": 10}]
    return document


def history() -> list[dict]:
    serial = 0

    def event(case_no: str, event_type: str, day: str, item: str = PLAIN, dept: str = SCJ,
              **extra) -> dict:
        nonlocal serial
        serial += 1
        return {"event_id": f"H-{serial:04d}", "case_no": case_no, "item_code": item,
                "dept_code": dept, "district_code": "440605", "event_type": event_type,
                "occurred_at": f"2026-{day}T09:00:00+08:00",
                "actor": {"id": "S001", "name": "李敏"}, **extra}

    joint = {"item": JOINT, "dept": FGJ}
    return [
        event("F1", "申请", "11-02"), event("F1", "办结", "11-03"),           # no 受理
        event("F2", "申请", "11-02"), event("F2", "不予受理", "11-02"),       # no reason
        *[event("F3", kind, day) for kind, day in (
            ("申请", "11-02"), ("受理", "11-02"), ("承办", "11-03"), ("审核", "11-04"),
            ("批准", "11-05"), ("办结", "11-09"))],                          # due 11-05: late
        event("F4", "受理", "11-02", FEE, "440605MZJ", case_type="即办件"),
        event("F4", "收费", "11-02", FEE, "440605MZJ", fee_amount="50.00"),  # standard 9.00
        event("F4", "办结", "11-02", FEE, "440605MZJ"),
        event("O1", "申请", "11-02"), event("O1", "受理", "11-02"),           # open, overdue
        event("J1", "申请", "11-02", case_type="联办件", **joint), event("J1", "受理", "11-02", **joint),
        event("J1", "分送", "11-04", to_dept_code=JTJ, **joint),
        event("J1", "承办", "11-05", JOINT, JTJ), event("J1", "承办", "11-05", JOINT, ZJJ),
        event("J1", "承办", "11-05", **joint), event("J1", "反馈", "11-16", JOINT, ZJJ, reason="同意"),
        event("U1", "申请", "11-02", "440605-XYZ-404"), event("U1", "受理", "11-02", "440605-XYZ-404"),
    ]


def box_folder(folder):
    config = write_box_folder(folder)
    (folder / "catalogue.json").write_text(json.dumps(catalogue(), ensure_ascii=False),
                                           encoding="utf-8")
    return config


def alerts(db) -> set[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return set(conn.execute("select subject, rule, level, dept_code, card, detail from alerts"
                                " where case_no is not null"))


def hallwatch(*args) -> str:
    done = subprocess.run([sys.executable, "-m", "hallwatch", "edge", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def by_file(tmp_path_factory) -> tuple[set[tuple], dt.date, list[dict], Path]:
    """The history loaded by ``edge ingest`` then judged by ``edge check``: (alerts, the day
    they were judged, the records, the history file)."""
    folder = tmp_path_factory.mktemp("file")
    day = dt.datetime.now(LOCAL_TZ).date()
    config = box_folder(folder)
    records = history()
    path = folder / "history.ndjson"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n",
                    encoding="utf-8")
    loaded = hallwatch("ingest", "--config", config, path)
    assert "accepted 24" in loaded and "7 cases wait to be judged" in loaded
    hallwatch("check", "--config", config)
    return alerts(folder / "data" / "box.db"), day, records, path


def wait_for_the_same(box, found: set[tuple], day: dt.date, how: str) -> None:
    def same() -> bool:
        if dt.datetime.now(LOCAL_TZ).date() != day:  # a day's count moved on mid-test
            return {a[:5] for a in alerts(box.db)} == {a[:5] for a in found}
        return alerts(box.db) == found

    wait_for(same, timeout=60, what=f"the same alerts {how}",
             detail=lambda: alerts(box.db) ^ found)


def test_file_and_http_find_the_same_alerts(by_file, tmp_path):
    found, day, records, _ = by_file
    box_folder(tmp_path / "http")
    box = start_box(tmp_path / "http")
    try:
        # One request per case, as a platform pushes a case's history (a case split across
        # requests may be judged half-told in between, which a file load never sees).
        for case_no in dict.fromkeys(r["case_no"] for r in records):
            body = "\n".join(json.dumps(r, ensure_ascii=False) for r in records
                             if r["case_no"] == case_no)
            status, answer = box.post("/api/v1/platform/events", body.encode())
            assert status == 200 and not answer["rejected"], answer
        wait_for_the_same(box, found, day, "over HTTP")
    finally:
        box.stop()
    rules = {(subject, rule, dept) for subject, rule, _level, dept, _card, _detail in found}
    assert {("case:F1", "程序异常", SCJ), ("case:F2", "无理由拒绝", SCJ),
            ("case:F3", "超期办结", SCJ), ("case:F4", "违规收费", "440605MZJ"),
            ("case:O1", "超期", SCJ), ("case:J1:dept:440605JTJ", "超期", JTJ),
            ("case:U1", "事项缺失", SCJ)} <= rules
    assert not any(rule == "程序异常" and subject.startswith("case:J1") for subject, rule, _d in rules)
    cards = {(subject, card) for subject, _rule, _level, _dept, card, _detail in found if card}
    assert ("case:J1:dept:440605JTJ", "yellow") in cards and ("case:U1", "yellow") not in cards


def test_a_box_started_after_edge_ingest_finds_them_by_itself(by_file, tmp_path):
    """Loaded while the box was stopped and never checked: ``edge serve`` judges the cases
    waiting on disk when it starts, finished ones included, with no ``edge check``."""
    found, day, _, path = by_file
    config = box_folder(tmp_path / "serve")
    assert "7 cases wait to be judged" in hallwatch("ingest", "--config", config, path)
    box = start_box(tmp_path / "serve")
    try:
        wait_for_the_same(box, found, day, "after a restart")
    finally:
        box.stop()


def test_the_platforms_export_in_a_drop_folder_finds_them_too(by_file, tmp_path):
    """The same history as the platform's own CSV export (its columns and codes, local times,
    GB18030), dropped in a running box's folder as a platform resends its history."""
    from hallwatch.exchange import MAPPING_FILE, PlatformRows, drop_export

    found, day, records, _ = by_file
    folder = tmp_path / "drop"
    box_folder(folder)
    config = tomllib.loads((folder / "box.toml").read_text(encoding="utf-8"))
    config["sources"] = [{"name": "export", "kind": "folder", "folder": "incoming",
                          "interval_seconds": 0.2, "mapping_file": str(MAPPING_FILE)}]
    (folder / "box.toml").write_text(tomli_w.dumps(config), encoding="utf-8")
    box = start_box(folder)
    try:
        drop_export(folder / "incoming", "history.csv", PlatformRows().rows(records))
        wait_for(lambda: (folder / "incoming" / "done" / "history.csv").exists(), 60,
                 what="the export loaded", detail=lambda: sorted(
                     p.name for p in (folder / "incoming").rglob("*")))
        wait_for_the_same(box, found, day, "from the drop folder")
    finally:
        box.stop()

"""The drop folder on a real folder and store: GB18030 CSV, half-written files, .ok markers,
XLSX and JSON exports, mapping errors named in the report, done/ and failed/."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
from pathlib import Path

import pytest
from openpyxl import Workbook

from edge.integration import INTEGRATION_SCHEMA, Mapping, RowMapper, Sink, source_states
from edge.integration.dropfolder import DropFolder
from edge.integration.worker import SourceWorker
from edge.ingest import CHUNK
from edge.store import Store
from edge.supervision import SUPERVISION_SCHEMA
from hallwatch.exchange import COLUMNS, MAPPING_FILE, PlatformRows, drop_export, export_csv
from hallwatch.sim import Platform
from standard.configfile import load_toml
from tests.boxes import start_box, write_box_folder
from tests.integration.relay_harness import wait_for

START = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.timezone.utc)
# Exports with Chinese headers, as a platform's "导出Excel" writes them.
CHINESE = {"sblsh": "申办流水号", "hjxh": "环节序号", "sxbm": "事项编码", "bmdm": "部门代码",
           "xzqh": "行政区划", "hjdm": "环节代码", "clsj": "处理时间", "blrgh": "办理人工号",
           "blrxm": "办理人姓名", "ckh": "窗口号", "yj": "意见", "sfje": "收费金额", "bjlx": "办件类型",
           "tbcx": "特别程序", "yqts": "延期天数", "fsbm": "分送部门"}


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "box" / "box.db", box_id="440608-01")
    store.extra_schema += [SUPERVISION_SCHEMA, INTEGRATION_SCHEMA]
    yield store.open()
    store.close()


def example_mapping(chinese: bool = False) -> Mapping:
    mapping = load_toml(MAPPING_FILE, Mapping)
    if not chinese:
        return mapping
    data = mapping.model_dump(exclude_none=True)
    data["fields"] = {k: CHINESE[v] for k, v in data["fields"].items()}
    data["event_id"]["columns"] = [CHINESE[c] for c in data["event_id"]["columns"]]
    return Mapping.model_validate(data)


def rows(days: int = 2, per_day: int = 5, seed: int = 0) -> list[dict]:
    return PlatformRows().rows(Platform("440608", seed=seed).backlog(START, days, per_day))


def drop(tmp_path: Path, store: Store, **options) -> DropFolder:
    return DropFolder("gm", tmp_path / "incoming", RowMapper(options.pop("mapping", None)
                                                             or example_mapping()),
                      Sink(store), **options)


def events(store: Store) -> int:
    return store.query("select count(*) as n from case_events")[0]["n"]


def report(folder: Path, name: str) -> dict:
    return json.loads((folder / f"{name}.report.json").read_text(encoding="utf-8"))


def test_a_gb18030_csv_with_chinese_headers_is_loaded_and_moved_to_done(tmp_path, store):
    data = rows()
    text = export_csv(data, "utf-8").decode("utf-8")
    for column, chinese in CHINESE.items():
        text = text.replace(column, chinese, 1) if column != "xh" else text
    payload = text.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        payload.decode("utf-8")  # really GB18030, as Chinese Excel saves "CSV"
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "办件导出20261102.csv").write_bytes(payload)
    source = drop(tmp_path, store, mapping=example_mapping(chinese=True))
    assert source.poll().files == []  # first sight: the size is noted
    outcome = source.poll()  # same size at the next poll: read
    assert outcome.files == ["办件导出20261102.csv"] and outcome.accepted == len(data)
    assert events(store) == len(data)
    assert not (folder / "办件导出20261102.csv").exists()
    assert (folder / "done" / "办件导出20261102.csv").read_bytes() == payload
    done = report(folder / "done", "办件导出20261102.csv")
    assert done["status"] == "done" and done["accepted"] == len(data) and done["rejected"] == 0
    assert "新接收" in done["summary"]
    names = [e["body"] for e in store.query("select body from case_events limit 1")]
    assert "办理人" not in names[0] and json.loads(names[0])["actor"]["name"]


def test_a_file_still_being_written_is_never_read(tmp_path, store):
    folder = tmp_path / "incoming"
    folder.mkdir()
    payload = export_csv(rows(3, 8))
    target = folder / "export.csv"
    source = drop(tmp_path, store)
    cut = len(payload) // 3
    with target.open("wb") as handle:
        handle.write(payload[:cut])  # the platform is still writing
        handle.flush()
        assert source.poll().files == []
        handle.write(payload[cut:2 * cut])
        handle.flush()
        assert source.poll().files == []  # it grew since the last poll: not yet
        handle.write(payload[2 * cut:])
    assert events(store) == 0 and target.exists()
    assert source.poll().files == []  # complete, but first seen at this size
    assert source.poll().files == ["export.csv"]
    assert events(store) == len(rows(3, 8))


def test_with_markers_required_only_an_ok_file_lets_it_be_read(tmp_path, store):
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "a.csv").write_bytes(export_csv(rows()))
    source = drop(tmp_path, store, require_ok_marker=True)
    for _ in range(3):
        assert source.poll().files == []
    drop_export(folder, "b.csv", rows(seed=1))  # the platform's way: file, then b.csv.ok
    assert source.poll().files == ["b.csv"]
    (folder / "a.csv.ok").write_bytes(b"")
    assert source.poll().files == ["a.csv"]
    assert not list(folder.glob("*.ok")) and events(store) == len(rows()) + len(rows(seed=1))


def test_a_mapping_error_sends_the_file_to_failed_with_the_key_named(tmp_path, store):
    folder = tmp_path / "incoming"
    text = export_csv(rows(), "utf-8").decode().replace("sblsh", "SBLSH_NEW", 1)
    folder.mkdir()
    (folder / "renamed.csv").write_text(text, encoding="utf-8")
    (folder / "renamed.csv.ok").write_bytes(b"")
    drop(tmp_path, store).poll()
    failed = report(folder / "failed", "renamed.csv")
    assert failed["status"] == "failed" and failed["accepted"] == 0
    assert 'fields.case_no = "sblsh"' in failed["error"] and 'event_id.columns "sblsh"' in \
        failed["error"]
    assert (folder / "failed" / "renamed.csv").exists() and events(store) == 0
    (state,) = source_states(store)
    assert state.files_failed == 1 and state.files_done == 0


def test_bad_rows_are_quarantined_and_reported_the_good_ones_kept(tmp_path, store):
    data = rows()
    data[1]["hjdm"] = "77"
    data[3]["clsj"] = None  # an empty 处理时间
    folder = tmp_path / "incoming"
    drop_export(folder, "mixed.csv", data)
    drop(tmp_path, store).poll()
    failed = report(folder / "failed", "mixed.csv")
    assert failed["accepted"] == len(data) - 2 and failed["rejected"] == 2
    rows_named = {item["row"]: item["reason"] for item in failed["rejections"]}
    assert set(rows_named) == {3, 5}  # lines of the file (the header is line 1)
    assert '"77"' in rows_named[3] and "occurred_at" in rows_named[5]
    assert store.query("select count(*) as n from quarantine")[0]["n"] == 2
    # The same file again (fixed): its good rows are duplicates, the fixed ones new.
    data[1]["hjdm"] = "03"
    data[3]["clsj"] = dt.datetime(2026, 11, 2, 10, 0)
    drop_export(folder, "mixed.csv", data)
    drop(tmp_path, store).poll()
    again = report(folder / "done", "mixed.csv")
    assert (again["accepted"], again["duplicates"]) == (2, len(data) - 2)


def test_xlsx_and_json_exports(tmp_path, store):
    folder = tmp_path / "incoming"
    folder.mkdir()
    book = Workbook()
    sheet = book.active
    sheet.append(list(COLUMNS))
    first = rows(seed=1)
    for row in first:
        sheet.append([row[c] for c in COLUMNS])
    book.save(folder / "export.xlsx")
    second = rows(seed=2)
    (folder / "export.json").write_text(json.dumps(
        [{k: (v.isoformat(sep=" ") if isinstance(v, dt.datetime) else
              str(v) if v is not None else None) for k, v in r.items()} for r in second],
        ensure_ascii=False), encoding="utf-8")
    for name in ("export.xlsx", "export.json"):
        (folder / f"{name}.ok").write_bytes(b"")
    outcome = drop(tmp_path, store).poll()
    assert sorted(outcome.files) == ["export.json", "export.xlsx"]
    assert events(store) == len(first) + len(second) and outcome.rejected == 0


def test_the_worker_keeps_the_folder_state_for_the_health_page(tmp_path, store):
    folder = tmp_path / "incoming"
    drop_export(folder, "one.csv", rows())
    worker = SourceWorker(drop(tmp_path, store), store, store.clock, interval=60,
                          max_backoff=600, alert_after=3)
    assert worker.run_once() == 60
    (state,) = source_states(store)
    assert (state.kind, state.files_done, state.rows_read, state.accepted) == \
        ("folder", 1, len(rows()), len(rows()))
    assert state.caught_up_at is not None and state.failures == 0


# -- a real box killed with SIGKILL in the middle of a file -----------------------------------
def stored_events(db: Path) -> int:
    """Events committed, as another process sees them."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute("select count(*) from case_events").fetchone()[0]


def test_kill_9_in_the_middle_of_a_file_then_restart_stores_every_row_once(tmp_path):
    """A file is committed in chunks: killed after some, the box reads it again from the start
    on restart; what was committed comes back as duplicates, nothing twice, nothing lost."""
    data = PlatformRows().rows(Platform("440608").backlog(START, 60, 200))
    assert len(data) > 4 * CHUNK  # several transactions: a kill can fall between them
    folder = tmp_path / "box"
    write_box_folder(folder, "440608", sources=[{
        "name": "gm", "kind": "folder", "folder": "incoming", "interval_seconds": 0.5,
        "mapping_file": str(MAPPING_FILE)}])
    db = folder / "data" / "box.db"
    box = start_box(folder)
    try:
        drop_export(folder / "incoming", "big.csv", data)
        wait_for(lambda: db.exists() and stored_events(db) > 0, 120, what="the first chunk",
                 interval=0.02)
        os.kill(box.process.pid, signal.SIGKILL)  # mid-file: chunks committed, the rest not
        box.process.wait(timeout=10)
    finally:
        if box.process.poll() is None:
            box.process.kill()
    before = stored_events(db)
    assert 0 < before < len(data), "the kill came after the file was loaded"
    assert (folder / "incoming" / "big.csv").exists()  # not moved: it is read again
    box = start_box(folder)
    try:
        done = folder / "incoming" / "done"
        wait_for(lambda: (done / "big.csv.report.json").exists(), 180, what="the file in done/")
    finally:
        box.stop()
    assert stored_events(db) == len(data)  # every row once
    loaded = report(done, "big.csv")
    assert loaded["status"] == "done" and loaded["rows"] == len(data)
    assert (loaded["accepted"], loaded["duplicates"], loaded["rejected"]) == (
        len(data) - before, before, 0)
    assert not (folder / "incoming" / "big.csv").exists()
    assert not (folder / "incoming" / "big.csv.ok").exists()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("select count(*) from quarantine").fetchone()[0] == 0
        relayed = conn.execute("select count(*), count(distinct json_extract(body,"
                               " '$.body.event_id')) from outbox_records where kind = 'case_event'"
                               ).fetchone()
        assert relayed == (len(data), len(data))  # each row goes to the hub once

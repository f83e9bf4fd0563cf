"""``hallwatch edge ingest`` and ``edge cases`` on real files, as a technician runs them."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.boxes import REPO

EXAMPLES = REPO / "docs" / "standard" / "examples"
CATALOGUE = EXAMPLES / "catalogue.json"


def hallwatch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hallwatch", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=120)


def test_ingest_the_published_examples_in_every_format(tmp_path):
    db = str(tmp_path / "box.db")
    files = [str(EXAMPLES / name) for name in ("events.ndjson", "events.json", "events.csv")]
    done = hallwatch("edge", "ingest", "--db", db, "--catalogue", str(CATALOGUE), *files)
    assert done.returncode == 0, done.stderr
    assert "accepted 16, duplicates 0, conflicts 0, rejected 0" in done.stdout
    again = hallwatch("edge", "ingest", "--db", db, "--catalogue", str(CATALOGUE), *files)
    assert "accepted 0, duplicates 16, conflicts 0, rejected 0" in again.stdout

    listed = hallwatch("edge", "cases", "--db", db, "--catalogue", str(CATALOGUE),
                       "--at", "2026-11-13T10:00:00+08:00", "--json")
    rows = {r["case_no"]: r for r in map(json.loads, listed.stdout.splitlines())}
    # 受理 11-02, 10 days, 补正 11-03..11-05 adds 2 → due 11-18; finished 11-12: early.
    assert (rows["NH2026110001"]["deadline"], rows["NH2026110001"]["outcome"]) == (
        "2026-11-18", "early")
    # 即办件 finished on its 受理 day.
    assert rows["NH2026110002"]["outcome"] == "on_time"
    # 专家评审 11-05..11-10 (+3) and 延期 5 (+5): 7 + 8 working days from 11-04.
    assert rows["NH2026110004"]["deadline"] == "2026-11-25"

    table = hallwatch("edge", "cases", "--db", db, "--catalogue", str(CATALOGUE),
                      "--at", "2026-11-13T10:00:00+08:00", "--open-only")
    assert "NH2026110004" in table.stdout and "NH2026110001" not in table.stdout


def test_ingest_exits_non_zero_and_names_the_bad_record(tmp_path):
    bad = tmp_path / "export.ndjson"
    good_line = (EXAMPLES / "events.ndjson").read_text(encoding="utf-8").splitlines()[0]
    bad.write_text(good_line + "\n" + good_line.replace('"受理"', '"受理"').replace(
        '"event_id":"NH-2026-000101"', '"event_id":"X-1","colour":"red"') + "\n",
        encoding="utf-8")
    done = hallwatch("edge", "ingest", "--db", str(tmp_path / "box.db"), "--catalogue",
                     str(CATALOGUE), str(bad))
    assert done.returncode == 1
    assert "accepted 1, duplicates 0, conflicts 0, rejected 1" in done.stdout
    assert f"{bad} #1: colour" in done.stderr


def test_a_file_that_is_not_json_is_kept_in_quarantine(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('[{"event_id": "A"', encoding="utf-8")
    db = tmp_path / "box.db"
    done = hallwatch("edge", "ingest", "--db", str(db), "--catalogue", str(CATALOGUE),
                     str(broken))
    assert done.returncode == 1 and "文件无法解析" in done.stderr
    import sqlite3
    with sqlite3.connect(db) as conn:
        assert conn.execute("select raw from quarantine").fetchone()[0] == '[{"event_id": "A"'


def test_bad_options_get_a_clear_message(tmp_path):
    done = hallwatch("edge", "cases", "--db", str(tmp_path / "x.db"), "--catalogue",
                     str(CATALOGUE), "--at", "next tuesday")
    assert done.returncode == 2 and "not an ISO date-time" in done.stderr
    missing = hallwatch("edge", "cases", "--catalogue", str(CATALOGUE))
    assert missing.returncode == 2 and "--db PATH or --config" in missing.stderr
    wrong = tmp_path / "box.toml"
    wrong.write_text('version = 1\nbox_id = "x"\ndistrict_code = "440605"\ncatalog = "c.json"\n')
    done = hallwatch("edge", "cases", "--config", str(wrong))
    assert done.returncode == 1
    assert "catalog: unknown key" in done.stderr and "catalogue: Field required" in done.stderr


def test_cases_json_gives_each_participating_department_of_a_joint_case(tmp_path):
    """The published 联办件 (joint.ndjson): 受理 and 分送 on 11-02; 交通运输局 (10 working
    days, due 11-16) answers on 11-10, 住房和城乡建设局 (15, due 11-23) on 11-16; the lead
    (20 days, due 11-30) finishes on 11-18."""
    db = str(tmp_path / "box.db")
    done = hallwatch("edge", "ingest", "--db", db, "--catalogue", str(CATALOGUE),
                     str(EXAMPLES / "joint.ndjson"))
    assert done.returncode == 0 and "accepted 9" in done.stdout, done.stdout + done.stderr

    def row(at: str) -> dict:
        listed = hallwatch("edge", "cases", "--db", db, "--catalogue", str(CATALOGUE),
                           "--at", at, "--json")
        (case,) = [r for r in map(json.loads, listed.stdout.splitlines())
                   if r["case_no"] == "NH2026110005"]
        return case

    keys = ("dept_code", "deadline", "remaining_working_days", "light", "state")
    case = row("2026-11-13T10:00:00+08:00")
    assert (case["dept_code"], case["deadline"]) == ("440605FGJ", "2026-11-30")  # the lead's
    # Both answered in time: the working days that were left at their 反馈.
    assert [tuple(d[k] for k in keys) for d in case["departments"]] == [
        ("440605ZJJ", "2026-11-23", 5, "green", "done"),
        ("440605JTJ", "2026-11-16", 4, "green", "done")]
    assert "程序异常" not in json.dumps(case, ensure_ascii=False)  # parallel 承办 is no anomaly
    # Before 住建局's 反馈 is known, on 11-24 it is one working day late; the lead is not.
    db = str(tmp_path / "early.db")
    lines = (EXAMPLES / "joint.ndjson").read_text(encoding="utf-8").splitlines()
    (tmp_path / "part.ndjson").write_text(
        "\n".join(line for line in lines if "NH-2026-000507" not in line
                  and '"办结"' not in line and '"批准"' not in line) + "\n", encoding="utf-8")
    assert hallwatch("edge", "ingest", "--db", db, "--catalogue", str(CATALOGUE),
                     str(tmp_path / "part.ndjson")).returncode == 0
    case = row("2026-11-24T10:00:00+08:00")
    assert (case["light"], case["remaining_working_days"]) == ("green", 4)
    assert [tuple(d[k] for k in keys) for d in case["departments"]][0] == (
        "440605ZJJ", "2026-11-23", -1, "red", "late")

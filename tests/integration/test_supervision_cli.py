"""``hallwatch edge check | alerts | notice`` on real files, through the ``edge`` group."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.cli import edge
from tests.boxes import REPO, write_box_folder

ITEM = "440605-SCJ-001"   # 企业设立登记: promised 3 working days, 审核 limit 1


def event(n: int, case_no: str, event_type: str, day: str, **extra) -> str:
    return json.dumps({"event_id": f"E{n:04d}", "case_no": case_no, "item_code": ITEM,
                       "dept_code": "440605SCJ", "district_code": "440605",
                       "event_type": event_type, "occurred_at": f"{day}T09:00:00+08:00",
                       "actor": {"id": "S001", "name": "李敏"}, **extra}, ensure_ascii=False)


def run(*args) -> str:
    result = CliRunner().invoke(edge, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def folder(tmp_path) -> Path:
    """A box folder with a contact and the log notifier, and a few weeks of events."""
    write_box_folder(tmp_path, rules={"cards": {"notice_due_working_days": 3}},
                     contacts=[{"dept_code": "440605SCJ", "name": "李敏", "phone": "13800138000"}],
                     notify={"log": True})
    lines = [event(1, "C1", "申请", "2026-11-02"), event(2, "C1", "受理", "2026-11-02"),
             event(3, "C2", "申请", "2026-11-02"), event(4, "C2", "受理", "2026-11-02"),
             event(5, "C2", "承办", "2026-11-02"), event(6, "C2", "审核", "2026-11-03"),
             event(7, "C2", "批准", "2026-11-03"), event(8, "C2", "办结", "2026-11-03")]
    (tmp_path / "events.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run("ingest", "--config", tmp_path / "box.toml", tmp_path / "events.ndjson")
    return tmp_path


def test_check_opens_alerts_and_cards_once(folder):
    config = folder / "box.toml"
    output = run("check", "--config", config, "--at", "2026-11-04T09:00")
    assert "opened  yellow 临近时限" in output and "case:C1" in output
    assert "checked 2 cases" in output   # the finished C2 too: loaded, so judged once
    output = run("check", "--config", config, "--at", "2026-11-06T09:00+08:00")
    assert "checked 1 cases" in output   # then only the open C1
    assert "opened  red    超期" in output
    assert "card    yellow 南海电监〔2026〕1号  case:C1  限期办理通知书 due 2026-11-11" in output
    assert "cleared 临近时限" in output
    again = run("check", "--config", config, "--at", "2026-11-06T09:05")
    assert "opened 0, reopened 0, cards 0, cleared 0, notifications queued 0" in again
    red = run("check", "--config", config, "--at", "2026-11-12T09:00")
    assert "card    red    南海电监〔2026〕2号  case:C1  整改建议书 due 2026-11-19" in red


def test_alerts_lists_cards_and_filters(folder):
    config = folder / "box.toml"
    run("check", "--config", config, "--at", "2026-11-04T09:00")
    run("check", "--config", config, "--at", "2026-11-06T09:00")
    rows = [json.loads(line) for line in run("alerts", "--config", config, "--json").splitlines()]
    by_rule = {row["rule"]: row for row in rows}
    assert set(by_rule) == {"临近时限", "超期"}
    assert (by_rule["超期"]["case_no"], by_rule["超期"]["level"], by_rule["超期"]["state"],
            by_rule["超期"]["card"], by_rule["超期"]["notices"]) == (
        "C1", "red", "open", "yellow", ["南海电监〔2026〕1号"])
    assert by_rule["临近时限"]["state"] == "resolved"
    table = run("alerts", "--db", folder / "data" / "box.db", "--state", "open")
    assert "C1" in table and "超期" in table and "南海电监〔2026〕1号" in table
    assert "临近时限" not in table
    assert run("alerts", "--config", config, "--cards").count("南海电监") == 1
    queued = run("alerts", "--config", config, "--level", "yellow", "--json")
    assert json.loads(queued)["allowed_actions"] == []


def test_notice_prints_the_stored_text(folder):
    config = folder / "box.toml"
    run("check", "--config", config, "--at", "2026-11-06T09:00")
    text = run("notice", "--db", folder / "data" / "box.db", "南海电监〔2026〕1号")
    assert "限期办理通知书" in text and "\n市场监督管理局：\n" in text
    assert "请你单位于2026年11月11日前依法办结该件" in text
    result = CliRunner().invoke(edge, ["notice", "--config", str(config), "南海电监〔2026〕9号"])
    assert result.exit_code == 1 and "no notice numbered 南海电监〔2026〕9号" in result.output
    assert "Traceback" not in result.output


def test_check_with_db_and_catalogue_queues_nothing(folder):
    db = folder / "data" / "box.db"
    output = run("check", "--db", db, "--catalogue", folder / "catalogue.json",
                 "--at", "2026-11-06T09:00")
    assert "cards 1" in output and "notifications queued 0" in output


def test_check_with_config_queues_notifications_for_the_contact(folder):
    run("check", "--config", folder / "box.toml", "--at", "2026-11-06T09:00")
    result = subprocess.run(
        [sys.executable, "-m", "hallwatch", "edge", "alerts", "--config", str(folder / "box.toml"),
         "--json", "--cards"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["notices"] == ["南海电监〔2026〕1号"]
    with sqlite3.connect(folder / "data" / "box.db") as conn:
        rows = conn.execute("select channel, contact_name, phone, state, text"
                            " from notifications").fetchall()
    assert rows and all(r[:4] == ("log", "李敏", "13800138000", "pending") for r in rows)
    assert any("南海电监〔2026〕1号" in r[4] for r in rows)


def test_bad_rules_config_names_the_key(tmp_path):
    write_box_folder(tmp_path, rules={"enabled": ["超期", "超时了"]})
    result = CliRunner().invoke(edge, ["check", "--config", str(tmp_path / "box.toml")])
    assert result.exit_code == 1
    assert "rules.enabled" in result.output and "unknown rule 超时了" in result.output
    assert "Traceback" not in result.output


def test_bad_at_is_a_usage_error(folder):
    result = CliRunner().invoke(edge, ["check", "--config", str(folder / "box.toml"),
                                       "--at", "next tuesday"])
    assert result.exit_code == 2 and "not an ISO date-time" in result.output


def test_a_running_box_texts_the_contact_when_a_light_turns_yellow(tmp_path):
    """build_box wires rules, queue and SMS worker: ingest → alert → SMS on the fake modem."""
    from edge.app import build_box
    from edge.config import load_box_config
    from edge.ingest import ingest_texts
    from edge.supervision.notify.fakemodem import FakeModem
    from standard.records import LOCAL_TZ

    moment = dt.datetime(2026, 11, 4, 9, 0, tzinfo=LOCAL_TZ)
    with FakeModem() as modem:
        config = write_box_folder(
            tmp_path, contacts=[{"dept_code": "440605SCJ", "name": "李敏", "phone": "13800138000"}],
            notify={"log": False, "sms": {"port": modem.port}})
        box = build_box(load_box_config(config), clock=lambda: moment)
        box.start()
        try:
            records = [(0, event(1, "C1", "申请", "2026-11-02")),
                       (1, event(2, "C1", "受理", "2026-11-02"))]
            result = ingest_texts(box.store, records, source="test", hooks=box.ingest_hooks)
            box.after_ingest(result.cases)
            assert modem.wait_for_messages(1, timeout=20)
        finally:
            box.stop()
    text = "".join(sms.text.split(")", 1)[1] if sms.text.startswith("(") else sms.text
                   for sms in modem.messages)
    assert modem.messages[0].number == "13800138000"
    assert "办件C1（企业设立登记）临近时限" in text
    (alert,) = box.supervision.alerts()
    assert (alert.rule, alert.level, alert.case_no) == ("临近时限", "yellow", "C1")


def test_commands_and_config_keys_are_documented():
    from edge.supervision.config import (
        CardSection,
        ContactSection,
        FocusSection,
        NotifySection,
        RulesSection,
        SmsSection,
        WebhookSection,
    )

    page = (REPO / "docs" / "supervision.md").read_text(encoding="utf-8")
    for name in ("check", "alerts", "notice"):
        assert f"hallwatch edge {name}" in page and edge.commands[name].help
    for section in (RulesSection, CardSection, FocusSection, ContactSection, NotifySection,
                    WebhookSection, SmsSection):
        for key in section.model_fields:
            assert key in page, f"docs/supervision.md does not describe {section.__name__}.{key}"


def test_check_lists_at_most_the_limit_and_counts_everything(folder):
    output = run("check", "--config", folder / "box.toml", "--at", "2026-11-06T09:00",
                 "--list-limit", "1")
    lines = output.splitlines()
    assert lines[0].startswith("opened  ") and lines[1].startswith("... and ")
    assert "more (list them: hallwatch edge alerts)" in lines[1]
    assert lines[2].startswith("checked 2 cases") and "opened 1, reopened 0, cards 1" in lines[2]


def test_check_shows_its_progress_on_a_terminal(folder):
    """On a terminal (a real pseudo-terminal on stderr) the check redraws one progress line;
    piped, as every other test runs it, stderr stays clean."""
    import os
    import pty

    reader, writer = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hallwatch", "edge", "check", "--config",
             str(folder / "box.toml"), "--at", "2026-11-06T09:00"],
            stdout=subprocess.PIPE, stderr=writer, text=True, cwd=REPO, timeout=120)
        os.close(writer)
        writer = None
        shown = b""
        while True:
            try:
                chunk = os.read(reader, 4096)
            except OSError:  # the terminal is closed once everything written was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if writer is not None:
            os.close(writer)
        os.close(reader)
    assert done.returncode == 0 and "checked 2 cases" in done.stdout
    assert "\r判定办件 judged 2 / 2 cases" in shown.decode("utf-8")
    piped = subprocess.run([sys.executable, "-m", "hallwatch", "edge", "check", "--config",
                            str(folder / "box.toml"), "--at", "2026-11-06T10:00"],
                           capture_output=True, text=True, cwd=REPO, timeout=120)
    assert piped.returncode == 0 and "判定办件" not in piped.stderr

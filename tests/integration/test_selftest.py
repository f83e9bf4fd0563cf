"""``provision selftest`` driven by a press script on mock pins, a generated video clip as the
camera and a real hub receiver on 127.0.0.1; plus the clock, calendar and disk checks and the
box's clock alert."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from edge.store import Store
from edge.storeschema import get_meta
from edge.supervision.clockwatch import check_clock as watch_clock
from hallwatch.sim import catalogue_for
from hub.receiver import Receiver
from hub.store import HubStore
from provisioning import enrollment
from provisioning.checks import check_calendar, check_clock, check_disk
from provisioning.cli import provision
from provisioning.selftest import SelftestOptions, perform_selftest, selftest_parts
from standard import boxregistry, identity
from standard.calendar import CalendarOverrides, WorkCalendar
from standard.envelope import chain_hash
from tests.presence_clips import Segment, make_clip

PROFILE = """version = 1
pin_factory = "mock"
debounce_ms = 20
[[windows]]
window_no = 1
evaluator = "five"
keys = {{5 = 5, 4 = 6, 3 = 13, 2 = 19, 1 = 26}}
thanks_led = 12
please_rate_led = 16
[[windows]]
window_no = 2
evaluator = "three"
keys = {{4 = 22, 3 = 10, 2 = 9}}
[[cameras]]
id = "cam-a"
source = "{clip}"
width = 320
height = 240
[[cameras.windows]]
window_no = 1
roi = [10, 30, 140, 190]
[[cameras.windows]]
window_no = 2
roi = [170, 30, 140, 190]
"""
KEYS = [(1, 5), (1, 4), (1, 3), (1, 2), (1, 1), (2, 4), (2, 3), (2, 2)]
T0 = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.timezone.utc)  # a Monday, 10:00 in the hall


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """Window 1 staffed, window 2 empty, 4 s at 5 fps (the camera loops it)."""
    return make_clip(tmp_path_factory.mktemp("clips") / "hall.avi",
                     [Segment(4, present={1})], fps=5)


@pytest.fixture
def hall(tmp_path, clip):
    """A hub receiver on 127.0.0.1 and an enrolled box whose profile has the clip as camera."""
    hub_config, hub_identity = enrollment.init_hub(tmp_path / "hub", bind="tcp://127.0.0.1:0")
    store = HubStore(hub_config.db_path).open()
    receiver = Receiver(store, hub_identity, hub_config.bind,
                        lambda: boxregistry.load_enrolled(hub_config))
    receiver.start()
    (tmp_path / "profile.toml").write_text(PROFILE.format(clip=clip), encoding="utf-8")
    (tmp_path / "catalogue.json").write_text(json.dumps(catalogue_for("440605")),
                                             encoding="utf-8")
    dialled = hub_config.model_copy(update={"public_endpoint": receiver.bound_endpoint})
    _, config = enrollment.provision_box(dialled, tmp_path / "box", "440605", "南海",
                                       catalogue=tmp_path / "catalogue.json",
                                       profile=tmp_path / "profile.toml")
    yield SimpleNamespace(hub_config=hub_config, receiver=receiver, hub_store=store,
                          config=config, config_path=tmp_path / "box" / "box.toml",
                          folder=tmp_path)
    receiver.stop()
    store.close()


def write_script(folder: Path, presses) -> Path:
    path = folder / "presses.json"
    path.write_text(json.dumps({"version": 1, "presses": presses}), encoding="utf-8")
    return path


def selftest(hall, script: Path, *extra: str):
    return CliRunner().invoke(provision, [
        "selftest", "--config", str(hall.config_path), "--script", str(script),
        "--report", str(hall.folder / "report.json"), "--key-timeout", "0.5",
        "--camera-seconds", "1", *extra])


def by_name(report: dict, name: str) -> list[dict]:
    return [check for check in report["checks"] if check["name"] == name]


def test_a_scripted_hall_passes_and_the_report_is_queued_for_the_hub(hall):
    with Store(hall.config.db_path, box_id=hall.config.box_id) as store:  # a box that has run
        store.write(lambda tx: tx.emit("note", {"text": "before the self-test"}))
    result = selftest(hall, write_script(hall.folder, "as-prompted"))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "请按下 1 号窗口的 5 键 (press key 5 at window 1)" in lines
    assert "  ✓ 收到 2 号窗口 2 键 (got window 2 key 2)" in lines
    report = json.loads((hall.folder / "report.json").read_text(encoding="utf-8"))
    assert report["ok"] and report["box_id"] == hall.config.box_id
    keys = by_name(report, "key")
    assert [(c["data"]["window_no"], c["data"]["level"]) for c in keys] == KEYS
    assert {c["status"] for c in keys} == {"ok"}
    camera, = by_name(report, "camera")
    assert camera["status"] == "ok" and camera["data"]["size"] == [320, 240]
    assert camera["data"]["fps"] > 2
    assert Path(camera["data"]["snapshot"]).is_file()
    regions = {c["data"]["window_no"]: c for c in by_name(report, "region")}
    assert regions[1]["status"] == "ok" and regions[1]["data"]["person"] == "face"
    assert regions[2]["status"] == "warn" and regions[2]["data"]["person"] is None
    hub, = by_name(report, "hub")
    assert hub["status"] == "ok" and hub["data"]["hub_acked_seq"] == 0
    assert {c["name"] for c in report["checks"]} >= {"clock", "calendar", "disk"}
    # Queued as the next outbox record, on the box's hash chain: the relay takes it to the hub.
    assert "Queued for the hub as outbox record 2" in result.output
    with Store(hall.config.db_path, box_id=hall.config.box_id) as store:
        rows = store.query("select seq, kind, body, hash from outbox order by seq")
        head = store.query("select value from meta where key = 'chain_seq'")[0]["value"]
    assert [row["kind"] for row in rows] == ["note", "selftest"] and head == "2"
    assert chain_hash(rows[0]["hash"], rows[1]["body"].encode()) == rows[1]["hash"]
    assert json.loads(rows[1]["body"])["body"] == report


def test_miswired_and_silent_keys_fail_with_their_pins(hall):
    presses = [{"window_no": w, "level": level} for w, level in KEYS]
    presses[6] = {"window_no": 2, "level": 2}  # key 3 of window 2 answers as key 2
    presses[7] = None  # and then nothing arrives
    result = selftest(hall, write_script(hall.folder, presses), "--skip", "cameras",
                      "--skip", "hub")
    assert result.exit_code == 1
    assert "收到的是 2 号窗口 2 键（BCM 9），应为 2 号窗口 3 键（BCM 10）" in result.output
    assert "0.5 秒内没有收到按键：检查 main 板 BCM 9 的接线" in result.output
    report = json.loads((hall.folder / "report.json").read_text(encoding="utf-8"))
    failed = [c["title"] for c in report["checks"] if c["status"] == "fail"]
    assert failed == ["2 号窗口 3 键", "2 号窗口 2 键"]
    assert not by_name(report, "camera") and not by_name(report, "hub")
    assert "FAILED" in result.output and "Queued" not in result.output  # no box.db yet


def test_refuses_while_the_box_service_holds_the_database(hall):
    with Store(hall.config.db_path, box_id=hall.config.box_id) as store:
        store.write(lambda tx: tx.emit("note", {}))
        result = selftest(hall, write_script(hall.folder, "as-prompted"))
    assert result.exit_code == 1
    assert "the box service is running. Stop it first" in result.output
    assert not (hall.folder / "report.json").exists()


def test_a_camera_that_does_not_open_fails_and_its_regions_are_skipped(hall, clip):
    profile = hall.folder / "box" / "profile.toml"
    profile.write_text(profile.read_text().replace(str(clip), "/nonexistent/hall.avi"))
    result = selftest(hall, write_script(hall.folder, "as-prompted"), "--skip", "keys",
                      "--skip", "hub")
    assert result.exit_code == 1
    report = json.loads((hall.folder / "report.json").read_text(encoding="utf-8"))
    assert by_name(report, "camera")[0]["status"] == "fail"
    assert {c["status"] for c in by_name(report, "region")} == {"skip"}


def test_a_revoked_box_gets_no_answer_from_the_hub(hall):
    boxregistry.revoke_box(hall.hub_config, hall.config.box_id)
    parts = selftest_parts(hall.config)
    options = SelftestOptions(hub_timeout=1.0, skip=frozenset({"keys", "cameras"}))
    outcome = perform_selftest(hall.config, parts, options, say=lambda line: None,
                               report_path=hall.folder / "r.json")
    hub, = by_name(outcome.report, "hub")
    assert hub["status"] == "fail" and "1 秒内无应答" in hub["detail"]
    assert not outcome.ok


# -- the clock ----------------------------------------------------------------------------
def test_a_clock_behind_the_last_record_is_reported_and_alerted(hall):
    moments = [T0]
    store = Store(hall.config.db_path, box_id=hall.config.box_id, clock=lambda: moments[0])
    with store:
        store.write(lambda tx: tx.emit("note", {}))
        assert watch_clock(store) is None
        moments[0] = T0 - dt.timedelta(days=3)  # the clock is set back three days
        assert "went back" in watch_clock(store)
        alert = store.query("select state, level, detail from alerts where subject = "
                            "'device:clock' and rule = '时钟异常'")
        assert alert[0]["state"] == "open" and alert[0]["level"] == "red"
        assert watch_clock(store) is not None  # still wrong: no second alert
        assert len(store.query("select id from alerts where subject = 'device:clock'")) == 1
        moments[0] = T0 + dt.timedelta(minutes=1)
        assert watch_clock(store) is None
        assert store.query("select state from alerts where subject = 'device:clock'")[0][
            "state"] == "resolved"
    # The self-test reports it too, and its own record keeps the last good time.
    parts = selftest_parts(hall.config, clock=lambda: T0 - dt.timedelta(days=3))
    outcome = perform_selftest(hall.config, parts,
                               SelftestOptions(skip=frozenset({"keys", "cameras", "hub"})),
                               say=lambda line: None, report_path=hall.folder / "r.json")
    clock, = by_name(outcome.report, "clock")
    assert clock["status"] == "fail" and "早于最后一条记录" in clock["detail"]
    with Store(hall.config.db_path, box_id=hall.config.box_id) as store:
        stamps = [row["created_at"] for row in store.query("select created_at from outbox "
                                                           "order by seq")]
        assert stamps == sorted(stamps)
        with store.read() as db:
            assert get_meta(db.conn, "chain_seq") == str(outcome.queued_seq)


def test_clock_check_bounds():
    assert check_clock(T0, None).status == "ok"
    assert check_clock(T0, T0 + dt.timedelta(minutes=4)).status == "ok"  # NTP slack
    assert check_clock(dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc), None).status == "fail"
    assert check_clock(T0 + dt.timedelta(days=800), T0).status == "warn"


def test_calendar_coverage_names_the_missing_year():
    known = WorkCalendar().known_years()
    this_year = max(known)
    found = check_calendar(dt.date(this_year, 11, 2), WorkCalendar())
    assert found.status == "warn" and f"下一年 {this_year + 1} 年" in found.detail
    overrides = CalendarOverrides(version=1, years={this_year + 1: {}})
    assert check_calendar(dt.date(this_year, 11, 2), WorkCalendar(overrides)).status == "ok"
    missing = check_calendar(dt.date(this_year + 3, 1, 5), WorkCalendar())
    assert missing.status == "fail" and f"不含 {this_year + 3} 年" in missing.detail


def test_disk_check_reports_free_space(tmp_path):
    found = check_disk(tmp_path / "not" / "made" / "yet")
    assert found.status in ("ok", "warn") and found.data["path"] == str(tmp_path)
    assert found.data["free_bytes"] > 0

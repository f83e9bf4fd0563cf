"""``provision check``: each kind of profile mistake is named, all at once; the JSON Schema
is generated from the models and current; docs/profile.md explains every key."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner

from edge.profile import (
    Board,
    CameraProfile,
    CameraWindow,
    HardwareProfile,
    ProfileError,
    WindowProfile,
    parse_profile,
)
from provisioning.cli import provision
from provisioning.profilecheck import SCHEMA_PATH, profile_schema, render_schema, summary

REPO = Path(__file__).resolve().parents[2]
GOOD = {
    "version": 1, "pin_factory": "mock",
    "windows": [
        {"window_no": 1, "evaluator": "five", "keys": {"5": 5, "4": 6, "3": 13, "2": 19, "1": 26},
         "thanks_led": 12, "please_rate_led": 16},
        {"window_no": 2, "evaluator": "three", "keys": {"4": 22, "3": 10, "2": 9}},
    ],
    "cameras": [{"id": "cam-a", "source": 0, "windows": [
        {"window_no": 1, "roi": [0, 0, 320, 480]}, {"window_no": 2, "roi": [320, 0, 320, 480]}]}],
}


def problems(raw: dict) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        parse_profile(raw, "hall.toml")
    return caught.value.problems


def check(tmp_path: Path, raw: dict):
    path = tmp_path / "hall.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return CliRunner().invoke(provision, ["check", str(path)])


def test_a_pin_used_twice():
    raw = copy.deepcopy(GOOD)
    raw["windows"][1]["keys"]["2"] = 16  # window 1's please-rate LED
    assert problems(raw) == ["windows.1 (窗口 2).keys.2: BCM 16 已被 windows.0 (窗口 1)."
                             "please_rate_led 使用 (pin used twice: every key and LED needs "
                             "its own pin)"]


def test_a_pin_the_board_does_not_have():
    raw = copy.deepcopy(GOOD)
    raw["windows"][0]["thanks_led"] = 40
    assert problems(raw) == ["windows.0.thanks_led: BCM 40 不在排针上 (not on the board header: "
                             "use BCM 2–27)"]


def test_a_region_outside_the_frame_default_640x480():
    raw = copy.deepcopy(GOOD)
    raw["cameras"][0]["windows"][1]["roi"] = [400, 100, 300, 400]
    assert problems(raw) == ["cameras.0.windows.1.roi: 区域 [400, 100, 300, 400] 超出画面 640x480 "
                             "(the region reaches x=700, y=500: keep x+w ≤ 640 and y+h ≤ 480, "
                             "or set the camera's width/height)"]
    raw["cameras"][0].update(width=1280, height=720)
    assert parse_profile(raw).cameras[0].width == 1280


def test_a_region_outside_a_declared_frame_size():
    raw = copy.deepcopy(GOOD)
    raw["cameras"][0].update(width=320, height=240)
    found = problems(raw)
    assert len(found) == 2
    assert found[0].startswith("cameras.0.windows.0.roi: 区域 [0, 0, 320, 480] 超出画面 320x240")
    assert parse_profile(GOOD).cameras[0].height == 480  # the default


def test_a_window_without_an_evaluator():
    raw = copy.deepcopy(GOOD)
    del raw["windows"][0]["evaluator"]
    assert problems(raw) == ["windows.0 (窗口 1): 没有配置评价器 (no evaluator: add evaluator = "
                             "\"five\" or \"three\" and its keys)"]


def test_overlapping_office_hours():
    found = problems({**GOOD, "office_hours": ["08:30-12:00", "11:45-17:30"]})
    assert found == ["office_hours: 办公时段重叠 (office hours overlap around 11:45: make the "
                     "periods disjoint)"]


def test_every_problem_at_once_and_exit_1(tmp_path):
    raw = copy.deepcopy(GOOD)
    raw["windows"][1]["keys"]["2"] = 16
    raw["windows"][0]["thanks_led"] = 40
    raw["cameras"][0]["windows"][1]["roi"] = [400, 100, 300, 400]
    del raw["windows"][0]["evaluator"]
    raw["office_hours"] = ["08:30-12:00", "11:45-17:30"]
    result = check(tmp_path, raw)
    assert result.exit_code == 1
    assert "hall.toml: 5 个问题 (problems):" in result.output
    for words in ("BCM 16 已被", "BCM 40 不在排针上", "超出画面 640x480", "没有配置评价器",
                  "office hours overlap"):
        assert words in result.output
    assert "Traceback" not in result.output


def test_ok_prints_a_summary(tmp_path):
    result = check(tmp_path, GOOD)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"OK {tmp_path / 'hall.toml'}",
        "  窗口 2 个 (windows): 五键 1、三键 1",
        "  引脚 (pins) on main: 按键 8 + 指示灯 2 = 10 / 26",
        "  摄像头 cam-a (camera): 640x480, 窗口 1, 2",
        "  办公时段 (office hours): 08:30-12:00, 14:00-17:30",
        "  引脚驱动 (pin_factory): mock（模拟引脚，仅供演示和测试；大厅里请用 lgpio 或 rpigpio）",
    ]


@pytest.mark.parametrize("name", ["hall-4", "hall-12"])
def test_shipped_profiles_pass(name):
    result = CliRunner().invoke(provision, ["check", str(REPO / "firmware_cfg" / f"{name}.toml")])
    assert result.exit_code == 0, result.output
    if name == "hall-12":
        assert "引脚 (pins) on b (192.168.10.22): 按键 22 + 指示灯 4 = 26 / 26" in result.output
        assert "无摄像头的窗口 (windows no camera watches): 9, 10, 11, 12" in result.output


def test_summary_counts_boards_separately():
    raw = copy.deepcopy(GOOD)
    raw["boards"] = [{"id": "b", "host": "10.0.0.22"}]
    raw["windows"][1]["board"] = "b"
    lines = summary(parse_profile(raw))
    assert "引脚 (pins) on main: 按键 5 + 指示灯 2 = 7 / 26" in lines
    assert "引脚 (pins) on b (10.0.0.22): 按键 3 + 指示灯 0 = 3 / 26" in lines


def test_schema_file_is_generated_from_the_models():
    published = SCHEMA_PATH.read_text(encoding="utf-8")
    assert published == render_schema(profile_schema()), \
        "firmware_cfg/profile.schema.json is stale: run python -m provisioning.profilecheck"
    schema = json.loads(published)
    assert schema["additionalProperties"] is False
    camera = schema["$defs"]["CameraProfile"]["properties"]
    assert (camera["width"]["default"], camera["height"]["default"]) == (640, 480)
    keys = schema["$defs"]["WindowProfile"]["properties"]["keys"]
    assert keys["additionalProperties"] == {"type": "integer", "minimum": 2, "maximum": 27}


def test_profile_docs_explain_every_key():
    page = (REPO / "docs" / "profile.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_]+)`", page)) | set(re.findall(r"\[\[([a-z_.]+)\]\]",
                                                                        page))
    for model in (HardwareProfile, WindowProfile, CameraProfile, CameraWindow, Board):
        for name in model.model_fields:
            assert name in documented or f"cameras.{name}" in documented, \
                f"docs/profile.md does not explain {model.__name__}.{name}"


def _catalogue(tmp_path: Path, district: str) -> Path:
    from hallwatch.sim import catalogue_for

    path = tmp_path / f"{district}.json"
    path.write_text(json.dumps(catalogue_for(district), ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("code", ["440600", "440604", "440605", "440606", "440607", "440608"])
def test_each_demo_hall_has_only_its_units_departments(tmp_path, code):
    result = CliRunner().invoke(provision, [
        "check", str(REPO / "firmware_cfg" / "halls" / f"{code}.toml"),
        "--catalogue", str(_catalogue(tmp_path, code)), "--district", code])
    assert result.exit_code == 0, result.output


def test_a_window_of_another_districts_department_is_refused(tmp_path):
    # The 南海 example profile in 禅城's hall: every window names a 440605 department.
    result = CliRunner().invoke(provision, [
        "check", str(REPO / "firmware_cfg" / "hall-4.toml"),
        "--catalogue", str(_catalogue(tmp_path, "440604")), "--district", "440604"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "4 个问题" in result.output
    assert "windows[4].dept_code: 4号窗口的部门 440605GAJ 不是本机所属区（440604）事项目录中的部门" \
        in result.output
    one_without_other = CliRunner().invoke(provision, [
        "check", str(REPO / "firmware_cfg" / "hall-4.toml"), "--district", "440604"])
    assert one_without_other.exit_code == 2 and "go together" in one_without_other.output

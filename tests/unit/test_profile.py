"""Hardware profiles: the shipped ones load, and every kind of mistake is named, all at once."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest

from edge.profile import ProfileError, load_profile, parse_profile

REPO = Path(__file__).resolve().parents[2]
GOOD = {
    "version": 1, "pin_factory": "mock",
    "windows": [
        {"window_no": 1, "evaluator": "five", "keys": {"5": 5, "4": 6, "3": 13, "2": 19, "1": 26},
         "thanks_led": 12, "please_rate_led": 16},
        {"window_no": 2, "evaluator": "three", "keys": {"4": 22, "3": 10, "2": 9}},
    ],
    "cameras": [{"id": "cam-a", "source": 0,
                 "windows": [{"window_no": 1, "roi": [0, 0, 100, 120]}]}],
}


def problems(raw: dict) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        parse_profile(raw, "test.toml")
    assert "test.toml" in str(caught.value)
    return caught.value.problems


def changed(**windows_0) -> dict:
    raw = copy.deepcopy(GOOD)
    raw["windows"][0].update(windows_0)
    return raw


@pytest.mark.parametrize("name, count", [("hall-4", 4), ("hall-12", 12)])
def test_shipped_profiles_load(name, count):
    profile = load_profile(REPO / "firmware_cfg" / f"{name}.toml")
    assert len(profile.windows) == count
    assert profile.pin_factory == "mock" and profile.debounce_ms == 50
    assert profile.in_office_hours(dt.time(9)) and not profile.in_office_hours(dt.time(12, 30))
    for window in profile.windows:
        wanted = {1, 2, 3, 4, 5} if window.evaluator == "five" else {2, 3, 4}
        assert set(window.keys) == wanted
    if name == "hall-12":
        assert {w.evaluator for w in profile.windows} == {"five", "three"}
        assert profile.board_host("b") == "192.168.10.22"


def test_defaults_and_helpers():
    profile = parse_profile(GOOD)
    assert (profile.debounce_ms, profile.lockout_seconds) == (50, 5)
    assert profile.office_hours == ["08:30-12:00", "14:00-17:30"]
    assert profile.window(2).keys == {4: 22, 3: 10, 2: 9}
    assert list(profile.window(1).pins())[-2:] == [("thanks_led", 12), ("please_rate_led", 16)]
    assert profile.cameras[0].source == 0
    with pytest.raises(KeyError):
        profile.window(9)


def test_pin_used_twice():
    found = problems(changed(thanks_led=22))
    assert len(found) == 1
    assert found == ["windows.1 (窗口 2).keys.4: BCM 22 已被 windows.0 (窗口 1).thanks_led 使用 "
                     "(pin used twice: every key and LED needs its own pin)"]


def test_pin_not_on_the_board():
    found = problems(changed(keys={"5": 5, "4": 6, "3": 13, "2": 19, "1": 28}))
    assert found == ["windows.0.keys.1: BCM 28 不在排针上 (not on the board header: "
                     "use BCM 2–27)"]
    assert "BCM 1 " in problems(changed(please_rate_led=1))[0]


def test_window_without_evaluator():
    raw = copy.deepcopy(GOOD)
    del raw["windows"][1]["evaluator"]
    assert problems(raw) == ["windows.1 (窗口 2): 没有配置评价器 (no evaluator: add evaluator = "
                             "\"five\" or \"three\" and its keys)"]


def test_duplicate_window_numbers():
    raw = copy.deepcopy(GOOD)
    raw["windows"][1]["window_no"] = 1
    assert problems(raw) == ["windows.1 (窗口 1).window_no: 窗口号 1 重复 (duplicate window "
                             "number, also windows.0)"]


def test_overlapping_office_hours():
    raw = {**GOOD, "office_hours": ["08:30-12:00", "11:30-17:30"]}
    assert "office hours overlap around 11:30" in problems(raw)[0]
    assert "expected HH:MM-HH:MM" in problems({**GOOD, "office_hours": ["8-12"]})[0]
    assert "start must be before end" in problems({**GOOD, "office_hours": ["12:00-08:00"]})[0]


def test_evaluator_levels_must_match():
    three_with_five = copy.deepcopy(GOOD)
    three_with_five["windows"][1]["keys"] = {"5": 22, "4": 10, "3": 9}
    found = problems(three_with_five)
    assert len(found) == 1 and "must be levels 2, 3, 4" in found[0]
    assert "must be levels 1, 2, 3, 4, 5" in problems(changed(keys={"5": 5, "4": 6}))[0]


def test_unknown_keys_and_camera_window():
    raw = changed(colour="red")
    raw["cameras"][0]["windows"].append({"window_no": 7, "roi": [0, 0, 10, 10]})
    raw["cameras"].append({"id": "cam-a", "source": "rtsp://10.0.0.9/s", "windows": [
        {"window_no": 2, "roi": [0, 0, -1, 10]}]})
    found = problems(raw)
    assert "windows.0.colour: 未知的键 (unknown key: check the spelling against " \
           "docs/profile.md)" in found
    assert any(p.startswith("cameras.0.windows.1.window_no: 窗口 7 不在 [[windows]] 中")
               for p in found)
    assert any(p.startswith("cameras.1.id: 摄像头 'cam-a' 重复") for p in found)
    assert any(p.startswith("cameras.1.windows.0.roi:") for p in found)


def test_every_problem_is_listed_at_once():
    raw = copy.deepcopy(GOOD)
    raw["office_hours"] = ["08:30-12:00", "11:00-17:30"]
    raw["windows"][0]["keys"]["1"] = 30  # off the board
    raw["windows"][1].update(window_no=1, keys={"4": 5, "3": 10, "2": 9})  # dup no, dup pin
    raw["windows"].append({"window_no": 3, "keys": {"4": 7}})  # no evaluator
    raw["pin_factory"] = "gpio"
    found = problems(raw)
    assert len(found) == 6, found
    text = "\n".join(found)
    for words in ("pin_factory", "office hours overlap", "BCM 30 不在排针上", "窗口号 1 重复",
                  "BCM 5 已被", "没有配置评价器"):
        assert words in text


def test_remote_board_must_be_declared_and_pins_are_per_board():
    raw = copy.deepcopy(GOOD)
    raw["windows"][1].update(board="b", keys={"4": 5, "3": 6, "2": 13})  # same pins, other board
    assert "未定义的板 'b'" in problems(raw)[0]
    raw["boards"] = [{"id": "b", "host": "10.0.0.22"}]
    assert parse_profile(raw).board_host("b") == "10.0.0.22"


def test_file_errors(tmp_path):
    with pytest.raises(ProfileError, match="file not found"):
        load_profile(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("version = ", encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(tmp_path / "bad.toml")

"""The box's hardware profile (``firmware_cfg/*.toml``): windows, evaluator keys, LEDs, cameras.

The profile says which BCM pin each evaluator key and LED of each service window is wired to,
which pin factory drives them and the hall's office hours. ``load_profile`` validates it and
raises one :class:`ProfileError` that lists *every* problem, so a technician fixes the file in
one pass. Nothing here opens a pin: only the composition root (``edge/app.py``) turns
``pin_factory`` into a gpiozero factory.

Example::

    >>> profile = load_profile("firmware_cfg/hall-4.toml")
    >>> profile.window(1).keys[5], profile.window(1).evaluator
    (5, 'five')
    >>> profile.in_office_hours(dt.time(9, 0)), profile.in_office_hours(dt.time(12, 30))
    (True, False)
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    StrictInt,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from standard.configfile import ConfigError, Section
from standard.districts import split_dept_code

MAIN_BOARD = "main"
DEFAULT_FRAME = (640, 480)  # a camera's width, height when the profile does not say
FIRST_PIN, LAST_PIN = 2, 27  # BCM 0/1 are the HAT ID EEPROM bus, above 27 is not on the header
FIVE_LEVELS = frozenset({1, 2, 3, 4, 5})
THREE_LEVELS = frozenset({2, 3, 4})  # 满意/基本满意/不满意 -> 4/3/2 (see docs/profile.md)
LEVEL_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


class ProfileError(ConfigError):
    """A hardware profile is missing, unreadable or invalid; ``problems`` lists each issue."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        listed = "\n  ".join(problems)
        super().__init__(f"{source}: invalid hardware profile ({len(problems)} problem"
                         f"{'s' if len(problems) != 1 else ''}):\n  {listed}")


def _on_board(pin: int) -> int:
    if not FIRST_PIN <= pin <= LAST_PIN:
        raise ValueError(f"BCM {pin} 不在排针上 (not on the board header: use BCM "
                         f"{FIRST_PIN}–{LAST_PIN})")
    return pin


# WithJsonSchema: the generated profile.schema.json states the range _on_board checks.
Pin = Annotated[StrictInt, AfterValidator(_on_board),
                WithJsonSchema({"type": "integer", "minimum": FIRST_PIN, "maximum": LAST_PIN})]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z._\-]+$")]


def parse_period(text: str) -> tuple[dt.time, dt.time]:
    """``"08:30-12:00"`` -> (08:30, 12:00); raises ValueError with the fix."""
    start_text, sep, end_text = text.partition("-")
    try:
        if not sep:
            raise ValueError
        start = dt.time.fromisoformat(start_text.strip())
        end = dt.time.fromisoformat(end_text.strip())
    except ValueError:
        raise ValueError(f"{text!r} 格式错误 (expected HH:MM-HH:MM, e.g. \"08:30-12:00\")") from None
    if start >= end:
        raise ValueError(f"{text!r} 开始时间不早于结束时间 (start must be before end)")
    return start, end


class Board(Section):
    """An extra GPIO board reached over the network (gpiozero remote GPIO, a Pi running pigpiod).

    One Raspberry Pi header has 26 usable pins; a hall with more keys than that puts the
    remaining windows on a second board.
    """

    id: Code
    host: str = Field(min_length=1, max_length=255)

    @field_validator("id")
    @classmethod
    def _not_main(cls, value: str) -> str:
        if value == MAIN_BOARD:
            raise ValueError(f'"{MAIN_BOARD}" 是本机排针的名称 (reserved for the box\'s own header)')
        return value


class WindowProfile(Section):
    """One service window: its evaluator keys (level -> BCM pin) and optional LEDs."""

    window_no: StrictInt = Field(ge=1, le=999)
    dept_code: Code | None = None
    evaluator: Literal["five", "three"]
    keys: dict[int, Pin] = Field(json_schema_extra={"propertyNames": {"pattern": "^[1-5]$"}})
    thanks_led: Pin | None = None
    please_rate_led: Pin | None = None
    board: str = MAIN_BOARD

    @model_validator(mode="after")
    def _levels_fit_evaluator(self) -> WindowProfile:
        wanted = FIVE_LEVELS if self.evaluator == "five" else THREE_LEVELS
        if set(self.keys) != wanted:
            levels = ", ".join(str(level) for level in sorted(wanted))
            raise ValueError(f"{self.evaluator} 评价器的按键等级必须正好是 {levels} "
                             f"(keys of a {self.evaluator}-key evaluator must be levels {levels}; "
                             f"got {', '.join(str(k) for k in sorted(self.keys)) or 'none'})")
        return self

    def pins(self) -> Iterator[tuple[str, int]]:
        """(what, pin) for every pin this window uses, e.g. ("keys.5", 5), ("thanks_led", 12)."""
        for level, pin in sorted(self.keys.items(), reverse=True):
            yield f"keys.{level}", pin
        for name in ("thanks_led", "please_rate_led"):
            pin = getattr(self, name)
            if pin is not None:
                yield name, pin


class CameraWindow(Section):
    """A window as one camera sees it: the ROI around the staff seat, in pixels."""

    window_no: StrictInt = Field(ge=1, le=999)
    roi: Annotated[list[StrictInt], Field(min_length=4, max_length=4)]

    @field_validator("roi")
    @classmethod
    def _positive_box(cls, value: list[int]) -> list[int]:
        x, y, w, h = value
        if x < 0 or y < 0 or w <= 0 or h <= 0:
            raise ValueError("roi 是 [x, y, w, h]，x、y ≥ 0，w、h > 0 (pixels)")
        return value


class CameraProfile(Section):
    """One camera: a V4L2 index (int), an RTSP/HTTP URL or a video file path."""

    id: Code
    source: StrictInt | Annotated[str, Field(min_length=1, max_length=1000)]
    fps: float = Field(default=5.0, gt=0, le=30)  # frames judged per second (docs/presence.md)
    # The frame size the ROIs are drawn in; every ROI must lie inside it.
    width: StrictInt = Field(default=DEFAULT_FRAME[0], ge=16, le=7680)
    height: StrictInt = Field(default=DEFAULT_FRAME[1], ge=16, le=4320)
    windows: list[CameraWindow] = Field(min_length=1)

    @field_validator("source")
    @classmethod
    def _index_not_negative(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("摄像头编号不能为负 (a device index is 0 or more)")
        return value


class HardwareProfile(Section):
    """The whole profile file. Build it with :func:`load_profile` or :func:`parse_profile`."""

    version: Literal[1]
    pin_factory: Literal["mock", "lgpio", "rpigpio"]
    debounce_ms: StrictInt = Field(default=50, ge=0, le=1000)
    lockout_seconds: float = Field(default=5, ge=0, le=600)
    office_hours: list[str] = Field(
        default_factory=lambda: ["08:30-12:00", "14:00-17:30"],
        json_schema_extra={"items": {"type": "string", "pattern": r"^\d\d:\d\d-\d\d:\d\d$"}})
    boards: list[Board] = Field(default_factory=list)
    windows: list[WindowProfile] = Field(min_length=1)
    cameras: list[CameraProfile] = Field(default_factory=list)

    @field_validator("office_hours")
    @classmethod
    def _periods_do_not_overlap(cls, value: list[str]) -> list[str]:
        periods = sorted(parse_period(text) for text in value)
        for (_, end), (start, _) in zip(periods, periods[1:]):
            if start < end:
                raise ValueError(f"办公时段重叠 (office hours overlap around {start:%H:%M}: "
                                 "make the periods disjoint)")
        return value

    def window(self, window_no: int) -> WindowProfile:
        """The window with this number; KeyError if the profile has none."""
        for window in self.windows:
            if window.window_no == window_no:
                return window
        raise KeyError(window_no)

    @property
    def periods(self) -> list[tuple[dt.time, dt.time]]:
        return sorted(parse_period(text) for text in self.office_hours)

    def in_office_hours(self, moment: dt.time) -> bool:
        """True inside an office period (start inclusive, end exclusive); lunch is outside."""
        return any(start <= moment < end for start, end in self.periods)

    def board_host(self, board: str) -> str | None:
        """None for the box's own header, else the remote board's host."""
        for item in self.boards:
            if item.id == board:
                return item.host
        return None


# -- cross checks: done on the raw data, so they are reported even when a field is wrong -----
def _cross_problems(raw: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    windows = raw.get("windows") if isinstance(raw.get("windows"), list) else []
    boards = {MAIN_BOARD} | {b.get("id") for b in raw.get("boards") or [] if isinstance(b, dict)}
    used: dict[tuple[str, int], str] = {}
    seen_windows: dict[int, int] = {}
    for index, window in enumerate(windows):
        if not isinstance(window, dict):
            continue
        where = f"windows.{index}"
        number = window.get("window_no")
        if isinstance(number, int):
            where = f"windows.{index} (窗口 {number})"
            if number in seen_windows:
                problems.append(f"{where}.window_no: 窗口号 {number} 重复 (duplicate window "
                                f"number, also windows.{seen_windows[number]})")
            else:
                seen_windows[number] = index
        if "evaluator" not in window:
            problems.append(f"{where}: 没有配置评价器 (no evaluator: add evaluator = \"five\" "
                            "or \"three\" and its keys)")
        board = window.get("board", MAIN_BOARD)
        if isinstance(board, str) and board not in boards:
            problems.append(f"{where}.board: 未定义的板 {board!r} (unknown board: add it to "
                            "[[boards]])")
        pins: list[tuple[str, Any]] = []
        if isinstance(window.get("keys"), dict):
            pins += [(f"keys.{level}", pin) for level, pin in window["keys"].items()]
        pins += [(name, window.get(name)) for name in ("thanks_led", "please_rate_led")]
        for what, pin in pins:
            if not isinstance(pin, int) or isinstance(pin, bool):
                continue
            key = (board if isinstance(board, str) else MAIN_BOARD, pin)
            if key in used:
                problems.append(f"{where}.{what}: BCM {pin} 已被 {used[key]} 使用 (pin used "
                                "twice: every key and LED needs its own pin)")
            else:
                used[key] = f"{where}.{what}"
    seen_cameras: set[str] = set()
    for index, camera in enumerate(raw.get("cameras") or []):
        if not isinstance(camera, dict):
            continue
        if camera.get("id") in seen_cameras:
            problems.append(f"cameras.{index}.id: 摄像头 {camera['id']!r} 重复 (duplicate id)")
        seen_cameras.add(camera.get("id"))
        for n, region in enumerate(camera.get("windows") or []):
            number = region.get("window_no") if isinstance(region, dict) else None
            if isinstance(number, int) and number not in seen_windows:
                problems.append(f"cameras.{index}.windows.{n}.window_no: 窗口 {number} 不在 "
                                "[[windows]] 中 (the camera names a window the profile lacks)")
            problems += _region_outside_frame(camera, region, f"cameras.{index}.windows.{n}")
    return problems


def _region_outside_frame(camera: dict, region: Any, where: str) -> list[str]:
    """An ROI that reaches past the camera's frame (width x height, default 640x480)."""
    width, height = (camera.get(name, default) for name, default in
                     zip(("width", "height"), DEFAULT_FRAME))
    roi = region.get("roi") if isinstance(region, dict) else None
    numbers = [width, height, *(roi if isinstance(roi, list) else [])]
    if len(numbers) != 6 or not all(type(v) is int for v in numbers):
        return []  # a malformed ROI or size is reported by the model
    x, y, w, h = roi
    if x + w <= width and y + h <= height:
        return []
    return [f"{where}.roi: 区域 [{x}, {y}, {w}, {h}] 超出画面 {width}x{height} (the region "
            f"reaches x={x + w}, y={y + h}: keep x+w ≤ {width} and y+h ≤ {height}, or set the "
            "camera's width/height)"]


def _describe(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "未知的键 (unknown key: check the spelling against docs/profile.md)"
        elif item["type"] == "missing":
            if item["loc"][-1:] == ("evaluator",):
                continue  # reported once, in words, by the cross checks
            message = "缺少必填项 (required)"
        lines.append(f"{where}: {message}")
    return lines


def parse_profile(raw: dict[str, Any], source: str = "profile") -> HardwareProfile:
    """Validate a profile already read into a dict; raises ProfileError listing every problem."""
    problems: list[str] = []
    profile = None
    try:
        profile = HardwareProfile.model_validate(raw)
    except ValidationError as exc:
        problems += _describe(exc)
    for problem in _cross_problems(raw):
        if problem not in problems:
            problems.append(problem)
    if problems or profile is None:
        raise ProfileError(source, problems or ["(unknown problem)"])
    return profile


def check_departments(profile: HardwareProfile, departments: Iterable[str],
                      district_code: str, source: str = "profile") -> HardwareProfile:
    """``profile`` when every window's ``dept_code`` is a department of the box's district
    catalogue; a ProfileError naming each window and code otherwise.

    A window of another district's department would have its ratings scored and published
    under that department's name (issue 14), so the box refuses to start with it.
    """
    known = frozenset(departments)
    problems = []
    for window in profile.windows:
        code = window.dept_code
        if code is None:
            continue
        unit = split_dept_code(code)[0]
        if code not in known or (unit and unit != district_code):
            problems.append(
                f"windows[{window.window_no}].dept_code: {window.window_no}号窗口的部门 {code} "
                f"不是本机所属区（{district_code}）事项目录中的部门 (window {window.window_no}: "
                f"{code} is not a department of the catalogue of district {district_code}; "
                f"use one of {', '.join(sorted(known)) or 'none'})")
    if problems:
        raise ProfileError(source, problems)
    return profile


def load_profile(path: Path | str) -> HardwareProfile:
    """Read and validate a hardware profile TOML file."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(str(path), ["文件不存在 (file not found)"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(str(path), [f"不是有效的 TOML (not valid TOML: {exc})"]) from None
    return parse_profile(raw, str(path))

"""The self-test's walk through the evaluator keys: "请按下 3 号窗口的 5 键", then what arrived.

Every window's keys are opened at once with the box's own ``WindowKeys`` (same pull-ups, same
debounce, no lockout), so a key wired to the wrong window or level shows up as exactly that.
While a window is being tested its "please rate" LED is on; a correct press lights its
"thank you" LED until the next prompt, so the technician sees both LEDs work.

The pins come from the factories the composition root hands in (``selftest.selftest_parts``):
real gpiozero pins in a hall, or mock pins driven by a script file for tests and rehearsals::

    {"version": 1, "presses": [{"window_no": 1, "level": 5}, null, ...]}

One entry answers one prompt, in order: a press (maybe the wrong key, to rehearse a miswired
hall) or ``null`` (nothing pressed: the prompt times out). ``"presses": "as-prompted"``
presses the right key every time.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from gpiozero import LED
from pydantic import StrictInt, ValidationError

from edge.evaluations.evaluators.keys import WindowKeys
from edge.evaluations.ratings import KeyPress
from edge.profile import HardwareProfile, WindowProfile
from provisioning.checks import Check
from standard.configfile import ConfigError, Section, describe_errors

Say = Callable[[str], None]


class ScriptPress(Section):
    window_no: StrictInt
    level: StrictInt


class PressScript(Section):
    version: Literal[1]
    presses: list[ScriptPress | None] | Literal["as-prompted"]


def load_script(path: Path) -> PressScript:
    """Read a press script; ConfigError names the file and each problem."""
    try:
        return PressScript.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            problems = "\n  ".join(describe_errors(exc))
            raise ConfigError(f"{path}: invalid press script:\n  {problems}") from None
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None


class ScriptedPresser:
    """Answers each prompt from a script by driving mock pins, as a finger would."""

    def __init__(self, script: PressScript, profile: HardwareProfile,
                 factories: Mapping[str, object]):
        self.script = script
        self.profile = profile
        self.factories = factories
        self.step = 0
        # Each press waits out the debounce, so a key pressed twice counts twice.
        self.quiet = profile.debounce_ms / 1000 + 0.01
        self._pause = threading.Event()

    def press(self, window_no: int, level: int) -> None:
        if self.script.presses == "as-prompted":
            planned: ScriptPress | None = ScriptPress(window_no=window_no, level=level)
        else:
            steps = self.script.presses
            planned = steps[self.step] if self.step < len(steps) else None
        self.step += 1
        if planned is None:
            return
        window = self.profile.window(planned.window_no)
        pin = self.factories[window.board].pin(window.keys[planned.level])
        self._pause.wait(self.quiet)
        pin.drive_low()
        self._pause.wait(0.01)
        pin.drive_high()


class KeyWalk:
    """Prompts for every key of every window, in order, and reports what arrived."""

    def __init__(self, profile: HardwareProfile, factories: Mapping[str, object], *,
                 say: Say, timeout: float = 30.0,
                 presser: Callable[[int, int], None] | None = None):
        self.profile = profile
        self.factories = factories
        self.say = say
        self.timeout = timeout
        self.presser = presser
        self._presses: queue.Queue[KeyPress] = queue.Queue()

    def run(self) -> list[Check]:
        keys = [WindowKeys(window, self.factories[window.board], sink=self._presses.put,
                           wall_clock=lambda: dt.datetime.now(dt.timezone.utc),
                           debounce_seconds=self.profile.debounce_ms / 1000,
                           lockout_seconds=0)
                for window in self.profile.windows]
        leds: dict[tuple[int, str], LED] = {}
        try:
            for window in self.profile.windows:
                for name in ("please_rate_led", "thanks_led"):
                    pin = getattr(window, name)
                    if pin is not None:
                        leds[(window.window_no, name)] = LED(
                            pin, pin_factory=self.factories[window.board])
            for window_keys in keys:
                window_keys.open()
            checks = []
            for window in self.profile.windows:
                checks += self._walk_window(window, leds)
            return checks
        finally:
            for window_keys in keys:
                window_keys.close()
            for led in leds.values():
                led.close()

    def _walk_window(self, window: WindowProfile, leds: dict) -> list[Check]:
        number = window.window_no
        please, thanks = leds.get((number, "please_rate_led")), leds.get((number, "thanks_led"))
        if please is not None:
            please.on()
        checks = []
        for level in sorted(window.keys, reverse=True):
            if thanks is not None:
                thanks.off()
            checks.append(self._one_key(window, level))
            if checks[-1].status == "ok" and thanks is not None:
                thanks.on()
        for led in (please, thanks):
            if led is not None:
                led.off()
        return checks

    def _one_key(self, window: WindowProfile, level: int) -> Check:
        number, pin = window.window_no, window.keys[level]
        title = f"{number} 号窗口 {level} 键"
        data = {"window_no": number, "level": level, "board": window.board, "pin": pin}
        while not self._presses.empty():  # a stray or double press belongs to no prompt
            self._presses.get_nowait()
        self.say(f"请按下 {number} 号窗口的 {level} 键 (press key {level} at window {number})")
        if self.presser is not None:
            self.presser(number, level)
        try:
            press = self._presses.get(timeout=self.timeout)
        except queue.Empty:
            detail = (f"{self.timeout:g} 秒内没有收到按键：检查 {window.board} 板 BCM {pin} "
                      f"的接线 (no press within {self.timeout:g} s: check the wiring of BCM "
                      f"{pin})")
            self.say(f"  ✗ {detail}")
            return Check("key", "fail", title, detail, data | {"got": None})
        data["got"] = {"window_no": press.window_no, "level": press.level}
        if (press.window_no, press.level) == (number, level):
            detail = f"收到 {number} 号窗口 {level} 键 (got window {number} key {level})"
            self.say(f"  ✓ {detail}")
            return Check("key", "ok", title, detail, data)
        got_pin = self.profile.window(press.window_no).keys[press.level]
        detail = (f"收到的是 {press.window_no} 号窗口 {press.level} 键（BCM {got_pin}），应为 "
                  f"{number} 号窗口 {level} 键（BCM {pin}）：接线与配置不符 (got window "
                  f"{press.window_no} key {press.level}: the wiring does not match the profile)")
        self.say(f"  ✗ {detail}")
        return Check("key", "fail", title, detail, data)

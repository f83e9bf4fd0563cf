"""Simulated citizens for the demo: they press evaluator keys on gpiozero mock pins.

The simulator drives the *pins* (``MockPin.drive_low``/``drive_high``), never the recording
service, so the whole path pin -> debounce -> lockout -> queue -> SQLite -> LED runs as it does
with real keys. Some presses bounce, some are pressed twice (the lockout drops the second).
It refuses to run on anything but mock pins.

A citizen rates after being served: given ``serving`` (the windows whose case was just
served, ``Ratings.awaiting_rating``), the next citizen goes to one of those windows, and when
there are none nobody presses. Without it (tests of the key path) any window is pressed. In
the demo this keeps ratings in office hours, on a case, under the staff who served it: before,
keys were pressed every few seconds all night, at no case, and counted in 满意率.

Example::

    simulator = CitizenSimulator(profile, lambda: service.factories, rng=random.Random(7),
                                 mean_interval_seconds=20)
    simulator.start()    # a daemon thread
    simulator.stop()
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Set

from gpiozero.pins.mock import MockFactory

from edge.profile import HardwareProfile, WindowProfile

log = logging.getLogger(__name__)

# How citizens rate, roughly as halls report it: mostly 非常满意, a few 差评.
FIVE_KEY_WEIGHTS = {5: 70, 4: 18, 3: 7, 2: 3, 1: 2}
THREE_KEY_WEIGHTS = {4: 88, 3: 9, 2: 3}


class CitizenSimulator:
    """Presses a random key at each window at random (exponential) intervals."""

    def __init__(self, profile: HardwareProfile,
                 factories: Callable[[], Mapping[str, object]], *,
                 rng: random.Random, mean_interval_seconds: float = 30.0,
                 hold_seconds: tuple[float, float] = (0.08, 0.4), bounce_chance: float = 0.3,
                 double_press_chance: float = 0.1,
                 serving: Callable[[], Set[int]] | None = None):
        self.profile = profile
        self.get_factories = factories  # the evaluator service's, once it has started
        self.factories: dict[str, object] = {}
        self.rng = rng
        self.mean_interval = mean_interval_seconds
        self.hold = hold_seconds
        self.bounce_chance = bounce_chance
        self.double_press_chance = double_press_chance
        self.serving = serving
        self.presses = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.factories = dict(self.get_factories())
        for board, factory in self.factories.items():
            if not isinstance(factory, MockFactory):
                raise ValueError(f"board {board!r}: simulated citizens need mock pins "
                                 "(pin_factory = \"mock\"), never real hardware")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="citizen-simulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        # One timeline for all windows: the next citizen comes to a random window.
        per_window = self.mean_interval / max(1, len(self.profile.windows))
        while not self._stop.wait(self.rng.expovariate(1 / per_window)):
            window = self.next_window()
            if window is None:
                continue
            try:
                self.press(window, self.choose_level(window))
                if self.rng.random() < self.double_press_chance:
                    self.press(window, self.choose_level(window))
            except Exception:  # the demo goes on even if one pin misbehaves
                log.exception("simulated press at window %s failed", window.window_no)

    def next_window(self) -> WindowProfile | None:
        """Where the next citizen rates: a window just served, any window without
        ``serving``, None when no one was served."""
        if self.serving is None:
            return self.rng.choice(self.profile.windows)
        try:
            served = self.serving()
        except Exception:  # the store busy or closing: nobody rates this time
            log.exception("simulated citizens: reading the served windows failed")
            return None
        windows = [w for w in self.profile.windows if w.window_no in served]
        return self.rng.choice(windows) if windows else None

    def choose_level(self, window: WindowProfile) -> int:
        weights = FIVE_KEY_WEIGHTS if window.evaluator == "five" else THREE_KEY_WEIGHTS
        levels = list(weights)
        return self.rng.choices(levels, weights=[weights[level] for level in levels])[0]

    def press(self, window: WindowProfile, level: int) -> None:
        """Press and release one key, with contact bounce now and then."""
        pin = self.factories[window.board].pin(window.keys[level])
        if self.rng.random() < self.bounce_chance:
            for _ in range(self.rng.randint(1, 3)):  # edges microseconds apart
                pin.drive_low()
                pin.drive_high()
        pin.drive_low()
        self.presses += 1
        self._stop.wait(self.rng.uniform(*self.hold))
        pin.drive_high()

"""Evaluator keys (评价器按键): gpiozero Buttons, our own debounce, and the per-window lockout.

Each key is a gpiozero ``Button`` (internal pull-up; pressed = pin driven low) built with the
injected pin factory. gpiozero's mock pins do not debounce and real contacts bounce, so
debouncing is done here with an injected monotonic clock:

* a falling edge is a press only if the pin was quiet (no edge at all) for ``debounce``
  seconds before it, so a burst of bounces gives one press and the bounces of a release none;
* a held key gives one press (it has one falling edge);
* after a press the whole window is locked for ``lockout`` seconds: one citizen, one rating.
  Presses during the lockout are logged and ignored.

Callbacks run on gpiozero's threads (or, with mock pins, on the thread driving the pin), so an
accepted press is only handed to ``sink`` (a queue put); nothing slow happens here.

Example::

    from gpiozero.pins.mock import MockFactory
    factory = MockFactory()
    keys = WindowKeys(profile.window(1), factory, sink=presses.put, wall_clock=utc_now)
    keys.open()
    factory.pin(5).drive_low()    # level 5 pressed -> one KeyPress in ``presses``
    keys.close()
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from gpiozero import Button

from edge.evaluations.ratings import KeyPress
from edge.profile import WindowProfile

log = logging.getLogger(__name__)

Monotonic = Callable[[], float]
IgnoredListener = Callable[[int, int, str], None]  # window_no, level, reason


class Debouncer:
    """Turns raw edges of one key into presses: leading-edge debounce on a quiet period.

    >>> d = Debouncer(0.05)
    >>> [d.edge(True, 1.000), d.edge(False, 1.002), d.edge(True, 1.004)]   # a bouncing press
    [True, False, False]
    >>> [d.edge(False, 1.300), d.edge(True, 1.301), d.edge(False, 1.302)]  # a bouncing release
    [False, False, False]
    >>> d.edge(True, 2.0)                                                  # the next press
    True
    """

    def __init__(self, debounce_seconds: float):
        self.debounce = debounce_seconds
        self._last_edge = float("-inf")

    def edge(self, pressed: bool, now: float) -> bool:
        """Feed one edge (pressed = went low); True when it is a new press."""
        quiet = now - self._last_edge >= self.debounce
        self._last_edge = now
        return pressed and quiet


class WindowKeys:
    """The keys of one window; presses leave through ``sink`` as :class:`KeyPress`."""

    def __init__(self, window: WindowProfile, pin_factory: object, *,
                 sink: Callable[[KeyPress], None], wall_clock: Callable[[], dt.datetime],
                 monotonic: Monotonic = time.monotonic, debounce_seconds: float = 0.05,
                 lockout_seconds: float = 5.0, on_ignored: IgnoredListener | None = None):
        self.window = window
        self.pin_factory = pin_factory
        self.sink = sink
        self.wall_clock = wall_clock
        self.monotonic = monotonic
        self.lockout = lockout_seconds
        self.on_ignored = on_ignored
        self._debouncers = {level: Debouncer(debounce_seconds) for level in window.keys}
        self._buttons: list[Button] = []
        self._lock = threading.Lock()  # edges of different keys may arrive on different threads
        self._locked_until = float("-inf")

    def open(self) -> None:
        """Claim the pins. Closing and opening again is allowed."""
        for level, pin in sorted(self.window.keys.items()):
            # bounce_time=None: gpiozero's debounce is not used (the mock has none); ours is.
            button = Button(pin, pull_up=True, bounce_time=None, pin_factory=self.pin_factory)
            button.when_pressed = self._callback(level, True)
            button.when_released = self._callback(level, False)
            self._buttons.append(button)

    def close(self) -> None:
        for button in self._buttons:
            button.close()
        self._buttons.clear()

    def _callback(self, level: int, pressed: bool) -> Callable[[], None]:
        def on_edge() -> None:
            self.edge(level, pressed)
        return on_edge

    def edge(self, level: int, pressed: bool) -> KeyPress | None:
        """Handle one raw edge; returns the press handed to the sink, if any."""
        with self._lock:
            now = self.monotonic()
            if not self._debouncers[level].edge(pressed, now):
                return None
            if now < self._locked_until:
                reason = f"lockout, {self._locked_until - now:.1f} s left"
                log.info("window %s: key %s ignored (%s)", self.window.window_no, level, reason)
                if self.on_ignored:
                    self.on_ignored(self.window.window_no, level, reason)
                return None
            self._locked_until = now + self.lockout
            press = KeyPress.new(self.window.window_no, level, self.wall_clock())
        log.debug("window %s: key %s pressed (%s)", self.window.window_no, level, press.press_id)
        self.sink(press)
        return press

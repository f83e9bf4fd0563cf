"""The evaluator service: key presses -> queue -> worker -> SQLite, then the LEDs.

gpiozero calls back on its own threads, and the store may be busy (a long ingest, a rules
pass) or slow. So a press is only queued by the callback; one worker thread writes presses in
order through :class:`Ratings` and never drops one: if the store does not answer within
``store_wait_seconds`` the same press is written again (its ``press_id`` makes that harmless),
until it is committed. Only after the commit does the window's "thank you" LED light. The
"please rate" LED follows the window's armed state: the arming ingest hook asks for a refresh,
and the worker reads the state through the store's writer queue, after that transaction.

Example::

    service = EvaluatorService(profile, lambda: {"main": MockFactory()}, ratings,
                               wall_clock=utc_now)
    ratings.window_listeners.append(service.request_led_sync)
    service.start()
    ...
    service.stop()   # closes the keys, then writes what is still queued
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping

from gpiozero import LED

from edge.evaluations.evaluators.keys import IgnoredListener, Monotonic, WindowKeys
from edge.evaluations.ratings import KeyPress, RatingOutcome, Ratings
from edge.profile import HardwareProfile

log = logging.getLogger(__name__)

PressListener = Callable[[KeyPress, RatingOutcome], None]
_STOP = object()
_SYNC = object()
PRESS_BATCH = 64  # presses of a burst committed together: one sync to disk for all


class EvaluatorService:
    """All windows' keys and LEDs of one box; ``start``/``stop`` with the box."""

    def __init__(self, profile: HardwareProfile,
                 make_factories: Callable[[], Mapping[str, object]], ratings: Ratings, *,
                 wall_clock: Callable[[], dt.datetime],
                 monotonic: Monotonic = time.monotonic, thanks_seconds: float = 3.0,
                 store_wait_seconds: float = 2.0, retry_pause_seconds: float = 0.5,
                 stop_timeout_seconds: float = 10.0):
        self.profile = profile
        # Pin factories are made in start(): a real one opens the GPIO chip when created.
        self.make_factories = make_factories
        self.factories: dict[str, object] = {}  # board id -> factory, while started
        self.ratings = ratings
        self.wall_clock = wall_clock
        self.monotonic = monotonic
        self.thanks_seconds = thanks_seconds
        self.store_wait = store_wait_seconds
        self.retry_pause = retry_pause_seconds
        self.stop_timeout = stop_timeout_seconds
        self.listeners: list[PressListener] = []  # after commit and LEDs, on the worker thread
        self.ignored_listeners: list[IgnoredListener] = []  # lockout, on the pin's thread
        self._queue: queue.Queue = queue.Queue()  # unbounded: a press is never refused
        self._abandon = threading.Event()
        self._worker: threading.Thread | None = None
        self._thanks_off: dict[int, float] = {}
        self._thanks: dict[int, LED] = {}
        self._please: dict[int, LED] = {}
        self.keys: list[WindowKeys] = []

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Claim the pins and start the worker; the please-rate LEDs are set from the store."""
        self._abandon.clear()
        self.factories = dict(self.make_factories())
        self.keys = [
            WindowKeys(window, self.factories[window.board], sink=self._queue.put,
                       wall_clock=self.wall_clock, monotonic=self.monotonic,
                       debounce_seconds=self.profile.debounce_ms / 1000,
                       lockout_seconds=self.profile.lockout_seconds, on_ignored=self._ignored)
            for window in self.profile.windows]
        for window in self.profile.windows:
            factory = self.factories[window.board]
            if window.thanks_led is not None:
                self._thanks[window.window_no] = LED(window.thanks_led, pin_factory=factory)
            if window.please_rate_led is not None:
                self._please[window.window_no] = LED(window.please_rate_led, pin_factory=factory)
        for keys in self.keys:
            keys.open()
        self._worker = threading.Thread(target=self._run, name="evaluator-worker", daemon=True)
        self._worker.start()
        self.request_led_sync()

    def stop(self) -> None:
        """Stop taking presses, write the queued ones, release the pins."""
        for keys in self.keys:
            keys.close()
        if self._worker:
            self._queue.put(_STOP)
            self._worker.join(self.stop_timeout)
            if self._worker.is_alive():
                self._abandon.set()  # the store is gone or stuck: log what is left, stop
                self._worker.join(self.store_wait + 5)
            self._worker = None
        for led in [*self._thanks.values(), *self._please.values()]:
            led.close()
        self._thanks.clear()
        self._please.clear()
        for board, factory in self.factories.items():
            try:
                factory.close()
            except Exception:
                log.exception("pin factory of board %s did not close cleanly", board)
        self.factories = {}

    def request_led_sync(self) -> None:
        """Refresh the please-rate LEDs once the current store transaction is over."""
        self._queue.put(_SYNC)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is handled (written, LEDs set); False on timeout."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def submit(self, press: KeyPress) -> None:
        """Queue a press that did not come from a pin (same path as a key)."""
        self._queue.put(press)

    def _ignored(self, window_no: int, level: int, reason: str) -> None:
        for listener in self.ignored_listeners:
            listener(window_no, level, reason)

    # -- the worker ---------------------------------------------------------------------
    def _run(self) -> None:
        waiting = None  # an item taken while gathering presses, handled next
        while True:
            if waiting is not None:
                item, waiting = waiting, None
            else:
                try:
                    item = self._queue.get(timeout=self._until_next_thanks_off())
                except queue.Empty:
                    item = None
            if item is _STOP:
                break
            if item is _SYNC:
                self._sync_leds()
            elif isinstance(item, KeyPress):
                presses, waiting = self._gather(item)
                self._handle(presses)
            elif isinstance(item, threading.Event):  # flush(): all before it is done
                item.set()
            self._expire_thanks()
        for light in self._thanks.values():
            self._set(light, False)

    def _gather(self, first: KeyPress) -> tuple[list[KeyPress], object]:
        """The presses queued right behind ``first``, in order, to commit together (one sync
        to disk for a burst); the first other item met is handed back, not skipped."""
        presses = [first]
        while len(presses) < PRESS_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return presses, None
            if not isinstance(item, KeyPress):
                return presses, item
            presses.append(item)
        return presses, None

    def _handle(self, presses: list[KeyPress]) -> None:
        outcomes = self._record(presses)
        if outcomes is None:
            return
        for press, outcome in zip(presses, outcomes):
            thanks = self._thanks.get(press.window_no)
            if thanks is not None:  # only now: the rating is committed
                self._set(thanks, True)
                self._thanks_off[press.window_no] = self.monotonic() + self.thanks_seconds
            if outcome.disarmed and press.window_no in self._please:
                self._set(self._please[press.window_no], False)
            for listener in self.listeners:
                try:
                    listener(press, outcome)
                except Exception:
                    log.exception("press listener failed")

    def _record(self, presses: list[KeyPress]) -> list[RatingOutcome] | None:
        """Write until committed; returns None only when abandoned at shutdown."""
        while True:
            try:
                return self.ratings.record_presses(presses, timeout=self.store_wait)
            except TimeoutError:
                log.warning("store busy: %d press(es) from %s still waiting", len(presses),
                            presses[0].press_id)
            except Exception:
                log.exception("%d press(es) from %s not recorded yet; retrying", len(presses),
                              presses[0].press_id)
                self._abandon.wait(self.retry_pause)
            if self._abandon.is_set():
                # Shutdown with the store stuck: leave the presses in the log to re-enter them
                # (hallwatch edge press), rather than hang the box forever.
                for press in presses:
                    log.error("press NOT recorded at shutdown: window=%s level=%s at=%s id=%s",
                              press.window_no, press.level, press.pressed_at.isoformat(),
                              press.press_id)
                return None

    def _sync_leds(self) -> None:
        if not self._please:
            return
        try:
            armed = self.ratings.store.write(self.ratings.armed_windows_in,
                                             timeout=self.store_wait)
        except Exception as exc:  # busy or failing: try again after the queued presses
            log.warning("please-rate LEDs not refreshed (%s); retrying", exc or "timeout")
            if not self._abandon.is_set():
                self._queue.put(_SYNC)
                self._abandon.wait(self.retry_pause)
            return
        for window_no, light in self._please.items():
            self._set(light, window_no in armed)

    def _until_next_thanks_off(self) -> float | None:
        if not self._thanks_off:
            return None
        return max(0.0, min(self._thanks_off.values()) - self.monotonic())

    def _expire_thanks(self) -> None:
        now = self.monotonic()
        for window_no, off_at in list(self._thanks_off.items()):
            if now >= off_at:
                self._set(self._thanks[window_no], False)
                del self._thanks_off[window_no]

    @staticmethod
    def _set(light: LED, on: bool) -> None:
        try:
            light.on() if on else light.off()
        except Exception:  # a broken LED must not stop ratings being recorded
            log.exception("LED %s could not be switched", light)

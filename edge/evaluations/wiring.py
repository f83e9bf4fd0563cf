"""Wiring the evaluation services into a box (called by the composition root, ``build_box``).

Always: the tables, the recording service, the follow-up service, the arming ingest hook and
the scheduled pass (overdue follow-ups, optional default 满意). With a hardware profile: the
evaluator keys and LEDs. With ``simulate = true`` and mock pins: simulated citizens.
The composition root passes ``make_pin_factory``, so choosing real or mock pins stays there.

Example::

    evaluations = wire_evaluations(box, calendar, pin_factory_for)
    box.start()     # opens the store, then the pins, then the simulator
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edge.config import EvaluationSection
from edge.evaluations.followups import FollowUpService
from edge.evaluations.ratings import Ratings
from edge.evaluations.tables import SCHEMA_SCRIPT
from edge.profile import HardwareProfile, check_departments, load_profile
from edge.store import Store
from edge.supervision import Scheduler
from standard.calendar import WorkCalendar
from standard.catalogue import departments
from standard.configfile import ConfigError

# A simulated citizen rates within this long of being served (a real one, at the counter).
SERVED_WITHIN = dt.timedelta(minutes=10)

if TYPE_CHECKING:
    from edge.app import Box
    from edge.evaluations.evaluators import CitizenSimulator, EvaluatorService

log = logging.getLogger(__name__)

# (profile pin_factory name, remote board host or None) -> a gpiozero pin factory
PinFactoryMaker = Callable[[str, str | None], object]


@dataclass
class Evaluations:
    """The evaluation services of one box, as the web pages and commands reach them."""

    ratings: Ratings
    followups: FollowUpService
    profile: HardwareProfile | None = None
    keys: EvaluatorService | None = None
    simulator: CitizenSimulator | None = None

    def scheduled_pass(self, at: dt.datetime) -> dict[str, int]:
        """Overdue follow-ups -> alerts; unrated finished cases -> default 满意 (if enabled)."""
        return {"alerts_opened": self.followups.check_overdue(at),
                "defaulted": self.ratings.apply_default_ratings(at)}


def build_evaluations(store: Store, calendar: WorkCalendar, policy: EvaluationSection,
                      profile: HardwareProfile | None = None) -> Evaluations:
    """The services without hardware (commands, tests)."""
    depts = {w.window_no: w.dept_code for w in profile.windows} if profile else {}
    return Evaluations(Ratings(store, calendar, policy, depts),
                       FollowUpService(store, calendar, policy), profile)


def wire_evaluations(box: Box, calendar: WorkCalendar,
                     make_pin_factory: PinFactoryMaker) -> Evaluations:
    """Add the evaluation services to ``box``; nothing is opened until ``box.start()``."""
    config = box.config
    policy = config.evaluations
    box.store.extra_schema.append(SCHEMA_SCRIPT)
    profile = load_profile(config.path(config.profile)) if config.profile else None
    if profile is not None:  # every window's department is one of this district's
        check_departments(profile, departments(box.board.catalogue),
                          config.district_code, str(config.path(config.profile)))
    evaluations = build_evaluations(box.store, calendar, policy, profile)
    box.ingest_hooks.append(evaluations.ratings.arm_from_events)
    # The rules' scheduler: once at start, every interval, and at each working day's start.
    box.services.append(Scheduler(lambda at: _log_pass(evaluations.scheduled_pass(at)),
                                  box.clock, policy.check_interval_seconds, box.rules.day_start,
                                  calendar))
    if config.simulate and (profile is None or profile.pin_factory != "mock"):
        raise ConfigError("simulate = true needs a hardware profile with pin_factory = \"mock\" "
                          "(simulated citizens never press real keys)")
    if profile is not None:
        _wire_keys(box, evaluations, profile, make_pin_factory, policy)
    return evaluations


def _wire_keys(box: Box, evaluations: Evaluations, profile: HardwareProfile,
               make_pin_factory: PinFactoryMaker, policy: EvaluationSection) -> None:
    from edge.evaluations.evaluators import CitizenSimulator, EvaluatorService

    boards = {window.board for window in profile.windows}

    def make_factories() -> dict[str, object]:
        return {board: make_pin_factory(profile.pin_factory, profile.board_host(board))
                for board in sorted(boards)}

    keys = EvaluatorService(profile, make_factories, evaluations.ratings, wall_clock=box.clock,
                            thanks_seconds=policy.thanks_seconds)
    evaluations.ratings.window_listeners.append(keys.request_led_sync)
    evaluations.keys = keys
    box.services.append(keys)
    if box.config.simulate:
        # Citizens rate a case just served (in office hours, as the platform serves them).
        evaluations.simulator = CitizenSimulator(
            profile, lambda: keys.factories, rng=random.Random(box.config.box_id),
            serving=lambda: evaluations.ratings.awaiting_rating(box.clock(), SERVED_WITHIN))
        box.services.append(evaluations.simulator)


def _log_pass(result: dict[str, Any]) -> None:
    if any(result.values()):
        log.info("evaluations pass: %s", result)

"""The background rule check: bursts coalesce into one pass, nothing submitted is left out, and
what waits on disk (edge/backlog.py) is judged at start and after each pass."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from edge.supervision.checker import RuleChecker

AT = dt.datetime(2026, 11, 4, 1, 0, tzinfo=dt.UTC)


class FakeRules:
    """Records each pass; a pass can be held open until ``release`` is set."""

    def __init__(self, fail_first: bool = False):
        self.passes: list[set[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail_first = fail_first
        self.drains = 0
        self.drained = threading.Event()

    def drain(self, at: dt.datetime, give_way=None) -> None:
        assert at == AT
        self.drains += 1
        self.drained.set()

    def check(self, at: dt.datetime, case_nos: set[str] | None = None) -> None:
        assert at == AT
        self.passes.append(set(case_nos))
        self.started.set()
        self.release.wait(timeout=10)
        if self.fail_first and len(self.passes) == 1:
            raise RuntimeError("rules failed")


@pytest.fixture
def rules():
    return FakeRules()


@pytest.fixture
def checker(rules):
    checker = RuleChecker(rules, lambda: AT)
    checker.start()
    yield checker
    rules.release.set()
    checker.stop()


def test_submitted_cases_are_checked(checker, rules):
    checker.submit(["C1", "C2"])
    assert checker.wait_idle(timeout=10)
    assert rules.passes == [{"C1", "C2"}]


def test_cases_submitted_during_a_pass_are_checked_together_in_the_next(checker, rules):
    rules.release.clear()
    checker.submit(["C1"])
    assert rules.started.wait(timeout=10)
    for batch in (["C2", "C3"], ["C3", "C4"], ["C1"]):
        checker.submit(batch)
    assert not checker.wait_idle(timeout=0.05)  # still in the first pass
    rules.release.set()
    assert checker.wait_idle(timeout=10)
    assert rules.passes == [{"C1"}, {"C1", "C2", "C3", "C4"}]


def test_a_failed_pass_does_not_stop_the_checker():
    rules = FakeRules(fail_first=True)
    checker = RuleChecker(rules, lambda: AT)
    checker.start()
    try:
        checker.submit(["C1"])
        assert checker.wait_idle(timeout=10)
        checker.submit(["C2"])
        assert checker.wait_idle(timeout=10)
    finally:
        checker.stop()
    assert rules.passes == [{"C1"}, {"C2"}]


def test_stop_checks_what_is_still_waiting(rules):
    checker = RuleChecker(rules, lambda: AT)
    checker.submit(["C1"])  # before start: waits for the thread
    checker.start()
    checker.stop()
    assert rules.passes == [{"C1"}]


def test_nothing_submitted_means_no_pass(checker, rules):
    checker.submit([])
    assert checker.wait_idle(timeout=10)
    assert rules.passes == []


def test_the_backlog_on_disk_is_judged_at_start_and_after_each_pass(checker, rules):
    assert rules.drained.wait(timeout=10)     # a restart: whatever was left marked
    assert checker.wait_idle(timeout=10)
    assert rules.drains == 1
    checker.submit(["C1"])
    assert checker.wait_idle(timeout=10)
    assert (rules.passes, rules.drains) == ([{"C1"}], 2)


def test_new_cases_go_before_the_rest_of_a_long_backlog():
    submitted = threading.Event()
    answers: list[bool] = []

    class LongBacklog(FakeRules):
        def drain(self, at, give_way=None):
            super().drain(at)
            if not answers:       # the first drain is long: new cases arrive meanwhile
                assert submitted.wait(timeout=10)
            answers.append(give_way())

    rules = LongBacklog()
    checker = RuleChecker(rules, lambda: AT)
    checker.start()
    try:
        assert rules.drained.wait(timeout=10)
        checker.submit(["C1"])
        submitted.set()
        assert checker.wait_idle(timeout=10)
    finally:
        checker.stop()
    # The backlog gave way to C1, which was checked, and then the backlog went on.
    assert (answers, rules.passes, rules.drains) == ([True, False], [{"C1"}], 2)

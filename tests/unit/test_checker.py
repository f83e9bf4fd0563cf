"""The background rule check: bursts coalesce into one pass, nothing submitted is left out."""

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

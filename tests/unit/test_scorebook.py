"""hub/scorebook.py and hub/score_periods.py: drafts, publication only after the month, forced
publication recorded, frozen versions, corrections with a reason, periods from published months."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from hallwatch.hubsim import SimBox, feed
from hub.score_periods import period_scores
from hub.scorebook import CorrectionNeedsReason, PublishRefused, ScoresNotReady
from hub.scoring import compute_month
from hub.services import Scope
from standard.records import LOCAL_TZ
from tests.hubkit import Clock, open_dashboard, write_hub_folder


def _at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), LOCAL_TZ)


@pytest.fixture
def hub(tmp_path):
    """Nanhai's box with three months of cases (2026-10 to 2026-12), the clock on 2026-11-20."""
    toml = write_hub_folder(tmp_path)
    (tmp_path / "calendar.json").write_text('{"version": 1, "years": {"2027": {}}}')
    toml.write_text('calendar_overrides = "calendar.json"\n' + toml.read_text())
    clock = Clock(_at("2026-11-20"))
    board = open_dashboard(tmp_path, clock)
    box = SimBox("440605-01", "440605", calendar=board.data.calendar)
    feed(board.data.store, box, box.history(dt.date(2026, 9, 28), 95, 4,
                                            today=dt.date(2027, 1, 10)))
    board.data.store.touch_box(box.box_id, "440605", backlog=0)
    return board, clock


def compute(board, month: str, **kwargs):
    return board.scorebook.save(month, compute_month(board.data, board.scoring, month),
                                board.scoring, board.scoring_text, **kwargs)


def test_a_month_is_published_only_after_it_ended_unless_forced_with_a_reason(hub):
    board, clock = hub
    book = board.scorebook
    draft = compute(board, "2026-11", user="t")
    assert (draft.version, draft.status, draft.label) == (1, "draft", "第1版 · 草稿（未发布）")
    with pytest.raises(PublishRefused, match="尚未结束（月末为 2026-11-30）"):
        book.publish("2026-11", user="王局")
    with pytest.raises(PublishRefused, match="强制发布须写明原因"):
        book.publish("2026-11", user="王局", force=True)
    clock.at = _at("2026-12-01", 9)
    with pytest.raises(PublishRefused, match="草稿计算于月末之前（2026-11-20）"):
        book.publish("2026-11", user="王局")  # the draft lacks the month's last ten days
    compute(board, "2026-11", user="t")
    published = book.publish("2026-11", user="王局")
    assert published.published and not published.forced and published.published_by == "王局"

    compute(board, "2026-12", user="t")
    forced = book.publish("2026-12", user="王局", force=True, reason="年终考核提前公布")
    assert forced.forced and forced.forced_reason == "年终考核提前公布"
    assert book.run("2026-12", 1).forced_reason == "年终考核提前公布"
    with pytest.raises(ScoresNotReady):
        book.publish("2026-09", user="t")


def test_a_published_version_is_frozen_and_a_correction_is_a_new_version_with_a_reason(hub):
    board, clock = hub
    clock.at = _at("2026-11-03")
    book = board.scorebook
    first = compute(board, "2026-10", user="t")
    again = compute(board, "2026-10", user="t")
    assert (first.version, again.version) == (1, 1)
    book.publish("2026-10", user="王局")
    with pytest.raises(ScoresNotReady, match="没有待发布的成绩"):
        book.publish("2026-10", user="t")
    conn = sqlite3.connect(board.data.store.path)
    for statement in ("update unit_scores set score = 100 where month = '2026-10'",
                      "delete from unit_scores where month = '2026-10'",
                      "update score_versions set formula = 'x' where month = '2026-10'",
                      "delete from score_versions where month = '2026-10'"):
        with pytest.raises(sqlite3.IntegrityError, match="published score version"):
            conn.execute(statement)
    conn.close()
    with pytest.raises(CorrectionNeedsReason, match="如需更正请写明更正原因"):
        compute(board, "2026-10", user="t")
    assert compute(board, "2026-10", user="(自动)", unless_published=True) is None
    correction = compute(board, "2026-10", user="t", reason="南海区补报 3 件办结记录")
    assert (correction.version, correction.reason) == (2, "南海区补报 3 件办结记录")
    assert correction.label == "第2版（更正） · 草稿（未发布）"
    assert book.current("2026-10", published_only=True).version == 1  # the public still sees v1
    book.publish("2026-10", user="t")
    assert [run.version for run in book.runs("2026-10")] == [2, 1]
    assert book.current("2026-10", published_only=True).version == 2
    old = book.scores(book.run("2026-10", 1), Scope.city())
    assert old and old[0]["lines"][0]["label"] == "按时办结率"  # both versions stay readable


def test_a_version_keeps_the_formula_it_was_computed_with(hub, tmp_path):
    board, clock = hub
    clock.at = _at("2026-11-03")
    compute(board, "2026-10", user="t")
    board.scorebook.publish("2026-10", user="t")
    run = board.scorebook.run("2026-10", 1)
    assert board.scorebook.config_text(run) == board.scoring_text
    assert len(run.formula_digest) == 12


def test_quarters_and_the_year_come_from_published_months_only(hub):
    board, clock = hub
    book = board.scorebook
    clock.at = _at("2027-01-05")
    for month in ("2026-10", "2026-11", "2026-12"):
        compute(board, month, user="t")
    book.publish("2026-10", user="t")
    book.publish("2026-11", user="t")  # December stays a draft
    rows = period_scores(book, 2026, Scope.city(), board.scoring)
    unit = next(u for u in rows if u["kind"] == "district" and u["district_code"] == "440605")
    october = book.unit(book.run("2026-10", 1), Scope.city(), "district", "440605", "")
    november = book.unit(book.run("2026-11", 1), Scope.city(), "district", "440605", "")
    assert set(unit["months"]) == {"2026-10", "2026-11"}
    assert unit["Q4"] == round((october["score"] + november["score"]) / 2, 2)
    assert (unit["Q4_months"], unit["Q4_published"]) == (2, 2)
    assert unit["Q4_grade"] == board.scoring.grade(unit["Q4"])
    assert unit["Y"] == unit["Q4"] and unit["Q1"] is None and unit["Q1_grade"] is None
    assert unit["Y_grade"] == board.scoring.grade(unit["Y"]) is not None  # the year has one too
    empty = next(u for u in rows if u["kind"] == "district" and u["district_code"] == "440606")
    assert empty["months"] == {"2026-10": None, "2026-11": None} and empty["Q4"] is None
    assert empty["Y_grade"] is None
    scoped = period_scores(book, 2026, Scope.department("SCJ"), board.scoring)
    assert scoped and {u["dept_code"][6:] for u in scoped} == {"SCJ"}

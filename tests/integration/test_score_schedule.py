"""A demo month through the hub's own score scheduler (a running thread, an injected clock):
drafted early on the 1st, kept up to date as late records arrive, published, then frozen."""

from __future__ import annotations

import datetime as dt
import queue
import sqlite3

import pytest

from hallwatch.hubsim import SimBox, feed
from hub.score_scheduler import ScoreScheduler, months_to_draft
from hub.scorebook import AUTOMATIC
from hub.scoring_config import DEFAULT_FILE
from hub.services import Scope
from standard.records import LOCAL_TZ
from tests.hubkit import Clock, open_dashboard, write_hub_folder
from web.hub import create_app


def _at(day: str, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), LOCAL_TZ)


def test_draft_months_follow_the_clock():
    at = dt.time(2, 0)
    assert months_to_draft(_at("2026-12-01", 1, 59), at, []) == []
    assert months_to_draft(_at("2026-12-01", 2, 0), at, []) == ["2026-11"]
    assert months_to_draft(_at("2026-12-15", 9), at, ["2026-10", "2026-11"]) == [
        "2026-11", "2026-10"]
    assert months_to_draft(_at("2026-12-15", 9), at, ["2027-01"]) == ["2026-11"]


def test_the_thread_wakes_at_the_draft_time_or_the_refresh_whichever_is_sooner():
    clock = Clock(_at("2026-12-01", 1, 30))
    scheduler = ScoreScheduler(None, None, None, clock, refresh_minutes=60)
    assert scheduler.seconds_to_next_tick() == 30 * 60
    clock.at = _at("2026-12-31", 23, 50)
    assert scheduler.seconds_to_next_tick() == 60 * 60
    clock.at = _at("2026-12-31", 1, 50)
    assert scheduler.seconds_to_next_tick() == 60 * 60
    clock.at = _at("2026-12-01", 2, 0)
    assert scheduler.seconds_to_next_tick() == 60 * 60
    daily = ScoreScheduler(None, None, None, clock, refresh_minutes=24 * 60)
    clock.at = _at("2026-12-31", 23, 50)
    assert daily.seconds_to_next_tick() == (2 * 60 + 10) * 60  # 2027-01-01 02:00


@pytest.fixture
def hub(tmp_path):
    write_hub_folder(tmp_path)
    clock = Clock(_at("2026-11-30", 22))
    board = open_dashboard(tmp_path, clock)
    box = SimBox("440605-01", "440605")
    feed(board.data.store, box, box.history(dt.date(2026, 11, 2), 28, 6,
                                            today=dt.date(2026, 11, 30)))
    board.data.store.touch_box(box.box_id, "440605", backlog=0)
    scheduler = next(s for s in board.services if isinstance(s, ScoreScheduler))
    ticks: queue.Queue = queue.Queue()
    scheduler.listeners.append(ticks.put)
    scheduler.start()
    yield board, clock, scheduler, ticks
    scheduler.stop()


def test_a_demo_month_is_drafted_updated_published_and_frozen(hub):
    board, clock, scheduler, ticks = hub
    book = board.scorebook
    # 11-30 22:00: last month is October (no cases there: every unit 无办件); publish it.
    (october,) = ticks.get(timeout=10)
    assert (october.month, october.computed_by) == ("2026-10", AUTOMATIC)
    assert all(row["score"] is None for row in book.scores(october, Scope.city()))
    book.publish("2026-10", user="王局")

    clock.at = _at("2026-12-01", 1, 30)  # before the draft time
    scheduler.poke()
    assert ticks.get(timeout=10) == [] and book.runs("2026-11") == []

    clock.at = _at("2026-12-01", 2, 5)
    scheduler.poke()
    (draft,) = ticks.get(timeout=10)
    assert (draft.month, draft.version, draft.status, draft.computed_by) == (
        "2026-11", 1, "draft", AUTOMATIC)
    nanhai = book.unit(draft, Scope.city(), "district", "440605", "")
    assert nanhai["score"] is not None and nanhai["cases"] > 0

    # A box that was offline delivers November's last cases late: the draft follows.
    late_box = SimBox.continuing(board.data.store, "440605-01", "440605")
    feed(board.data.store, late_box, late_box.history(dt.date(2026, 11, 27), 1, 40,
                                                      today=dt.date(2026, 11, 30)))
    clock.at = _at("2026-12-01", 3, 5)
    scheduler.poke()
    (updated,) = ticks.get(timeout=10)
    assert (updated.version, updated.status) == (1, "draft")
    assert updated.computed_at > draft.computed_at
    again = book.unit(updated, Scope.city(), "district", "440605", "")
    assert again["cases"] > nanhai["cases"]

    published = book.publish("2026-11", user="王局")
    assert published.published and not published.forced
    clock.at = _at("2026-12-02", 9)
    scheduler.poke()
    assert ticks.get(timeout=10) == []  # a published month is left alone
    assert [(r.version, r.status) for r in book.runs("2026-11")] == [(1, "published")]
    assert book.run("2026-11", 1).computed_at == updated.computed_at

    conn = sqlite3.connect(board.data.store.path)
    with pytest.raises(sqlite3.IntegrityError, match="published score version"):
        conn.execute("update unit_scores set score = 100 where month = '2026-11'")
    conn.close()
    page = create_app(board, {"TESTING": True}, announce=lambda *first: None).test_client()
    shown = page.get("/portal/scores?month=2026-11").get_data(as_text=True)
    assert "第1版 · 已发布" in shown and "南海区" in shown


def test_an_edited_formula_file_is_used_without_a_restart_and_a_broken_one_drafts_nothing(
        tmp_path, caplog):
    toml = write_hub_folder(tmp_path)
    formula = tmp_path / "scoring.toml"
    shipped = DEFAULT_FILE.read_text(encoding="utf-8")
    formula.write_text(shipped, encoding="utf-8")
    toml.write_text('scoring = "scoring.toml"\n' + toml.read_text(encoding="utf-8"),
                    encoding="utf-8")
    clock = Clock(_at("2026-12-01", 3))
    board = open_dashboard(tmp_path, clock)
    scheduler = next(s for s in board.services if isinstance(s, ScoreScheduler))
    (first,) = scheduler.tick()
    assert first.formula == "佛山市电子监察绩效评估办法 2026 第2版"
    formula.write_text(shipped.replace("2026 第2版", "2026 第3版"), encoding="utf-8")
    (second,) = scheduler.tick()
    assert second.formula == "佛山市电子监察绩效评估办法 2026 第3版"
    formula.write_text(shipped.replace("[complaints]", "[complaints]\nwieght = 1"),
                       encoding="utf-8")
    assert scheduler.tick() == []
    assert "complaints.wieght: unknown key" in caplog.text
    assert board.scorebook.current("2026-11", published_only=False).formula.endswith("第3版")

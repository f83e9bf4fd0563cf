"""Ratings per day, unit and item: the department page's satisfaction per item.

A rating names its case, not its item; the department page showed each item's satisfaction
by joining the month's ratings to their cases (hub/services/departments.py), one index
probe per rating: at 50 million records about 60,000 probes for 市场监管局 in one month,
half the page's time (docs/hub.md). Here the answer is kept on the write path:

- ``hub_ratings.item_code``: the item of the rating's case, once that case is stored (a
  rating may arrive before its case: it then waits with a null item, in a small partial
  index, until the case's first upsert places it, ``place_ratings``);
- ``hub_rating_item_daily``: per (department, day, district, item) the ratings, those
  counted and those counted at 满意 or better (level 4 and up), changed by delta as ratings
  are written or placed (hub/projections/supervision.py, cases.py, casebatch.py), last in
  the transaction and in key order like the other daily aggregates (hub/storage/lastwrites.py).

So the page reads about 31 days × districts × items rows whatever the hub's size, with the
same numbers as the join (tests/unit/test_hub_rating_items.py). A case's item never changes
once stored (standard/facts.py), and cases are not deleted outside a rebuild of the views.
Migration 18 fills both from the ratings and cases already stored.

Example::

    deltas = Deltas(3)
    add_rating(deltas, stored_row, +1)                 # after the rating's upsert
    write_last(conn, BUMP, deltas.rows(), key_width=4, extra_width=0)
"""

from __future__ import annotations

from typing import Any

from hub.projections.batchwise import Deltas, chunks, marks, run
from hub.storage.lastwrites import write_last

# Created by migration 18 (hub/storage/migrations.py).
TABLE = """
create table if not exists hub_rating_item_daily (
    dept_suffix text not null, day text not null, district_code text not null,
    item_code text not null, total integer not null default 0,
    counted integer not null default 0, satisfied integer not null default 0,
    primary key (dept_suffix, day, district_code, item_code)) without rowid;
"""
# Ratings still waiting for their case: few, so a partial index finds them cheaply.
INDEXES = """
create index if not exists hub_ratings_unplaced on hub_ratings(district_code, case_no)
    where item_code is null and case_no is not null;
"""
FILL_ITEMS = """
update hub_ratings set item_code = (select c.item_code from hub_cases c
    where c.district_code = hub_ratings.district_code and c.case_no = hub_ratings.case_no)
    where case_no is not null
"""
BACKFILL = """
insert into hub_rating_item_daily (dept_suffix, day, district_code, item_code, total, counted,
    satisfied)
    select coalesce(dept_suffix, ''), rated_on, district_code, item_code, count(*),
        sum(effective), sum(case when effective = 1 and level >= 4 then 1 else 0 end)
    from hub_ratings where item_code is not null
    group by coalesce(dept_suffix, ''), rated_on, district_code, item_code
"""
BUMP = (
    "insert into hub_rating_item_daily as d (dept_suffix, day, district_code, item_code, total,"
    " counted, satisfied) values (?, ?, ?, ?, ?, ?, ?)"
    " on conflict (dept_suffix, day, district_code, item_code) do update set"
    " total = d.total + excluded.total, counted = d.counted + excluded.counted,"
    " satisfied = d.satisfied + excluded.satisfied")


def add_rating(deltas: Deltas, rating: dict[str, Any] | None, sign: int) -> None:
    """A stored rating's share (``hub_ratings`` columns), if its case's item is known."""
    if not rating or rating.get("item_code") is None:
        return
    counted = 1 if rating["effective"] else 0
    deltas.add((rating["dept_suffix"] or "", rating["rated_on"], rating["district_code"],
                rating["item_code"]), (),
               (sign, sign * counted, sign * (counted and int(rating["level"]) >= 4)))


def case_items(conn, district: str, case_nos: list[str | None]) -> dict[str, str]:
    """The item of each of ``case_nos`` stored in ``district`` (absent: not stored yet)."""
    wanted = [case_no for case_no in dict.fromkeys(case_nos) if case_no is not None]
    found: dict[str, str] = {}
    for chunk in chunks(wanted):
        found.update(conn.execute(f"select case_no, item_code from hub_cases where"
                                  f" district_code = ? and case_no in ({marks(chunk)})",
                                  (district, *chunk)).fetchall())
    return found


def place_ratings(conn, district: str, items: dict[str, str]) -> None:
    """Give the ratings that arrived before these new cases (case_no → item) their item."""
    deltas, placed = Deltas(3), []
    for chunk in chunks(list(items)):
        for box_id, rating_id, case_no, *rest in conn.execute(
                "select box_id, rating_id, case_no, dept_suffix, rated_on, effective, level"
                " from hub_ratings where district_code = ? and item_code is null"
                f" and case_no is not null and case_no in ({marks(chunk)})", (district, *chunk)):
            rating = dict(zip(("dept_suffix", "rated_on", "effective", "level"), rest),
                          district_code=district, item_code=items[case_no])
            add_rating(deltas, rating, +1)
            placed.append((items[case_no], box_id, rating_id))
    run(conn, [("update hub_ratings set item_code = ? where box_id = ? and rating_id = ?", row)
               for row in placed])
    write_last(conn, BUMP, deltas.rows(), key_width=4, extra_width=0)

"""Alerts, their audit trail, cards' notices, ratings and bad-review follow-ups at the hub.

A box sends an ``alert`` record with the alert's whole row after every change, an
``alert_event`` for each audit entry, a ``notice`` for each 限期办理通知书 / 整改建议书 it
issues, and a ``rating`` / ``review_followup`` with the current state on every change. These
appliers keep the latest state per (box, id); the history stays in ``records``.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from hub.projections import ratingitems
from hub.projections.batchwise import Deltas, Statement, chunks, marks, run
from hub.storage.lastwrites import write_last
from hub.units import dept_suffix, local_date_of
from standard.evaluations import BAD_LEVELS, SATISFIED_LEVELS

YELLOW_CARD_NOTICE = "限期办理通知书"
RED_CARD_NOTICE = "整改建议书"


def alert_statements(ctx, conn, box_id: str, record: dict[str, Any]) -> list[Statement]:
    alert = record["body"]
    if not isinstance(alert, dict) or "id" not in alert:
        return []  # the box sends null for an alert it could not read back; nothing to show
    district = ctx.district_of(conn, box_id)
    return [(
        "insert into hub_alerts (box_id, alert_id, district_code, subject, rule, level, state,"
        " detail, opened_at, opened_on, updated_at, case_no, dept_code, dept_suffix, card,"
        " card_due, cleared_at, liability)"
        " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " on conflict(box_id, alert_id) do update set subject = excluded.subject,"
        " rule = excluded.rule, level = excluded.level, state = excluded.state,"
        " detail = excluded.detail, updated_at = excluded.updated_at,"
        " case_no = excluded.case_no, dept_code = excluded.dept_code,"
        " dept_suffix = excluded.dept_suffix, card = excluded.card,"
        " card_due = excluded.card_due, cleared_at = excluded.cleared_at,"
        " liability = excluded.liability where excluded.updated_at >= hub_alerts.updated_at",
        (box_id, alert["id"], district, alert["subject"], alert["rule"], alert["level"],
         alert["state"], alert["detail"], alert["opened_at"], local_date_of(alert["opened_at"]),
         alert["updated_at"], alert.get("case_no"), alert.get("dept_code"),
         dept_suffix(alert.get("dept_code"), district) if alert.get("dept_code") else None,
         alert.get("card"), alert.get("card_due"), alert.get("cleared_at"),
         alert.get("liability")))]


def alert_event_statements(ctx, conn, box_id: str, record: dict[str, Any]) -> list[Statement]:
    event = record["body"]
    return [(
        "insert into hub_alert_events (box_id, event_id, alert_id, at, actor, action,"
        " from_state, to_state, note) values (?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing",
        (box_id, event["id"], event["alert_id"], event["at"], event["actor"], event["action"],
         event.get("from_state"), event.get("to_state"), event.get("note")))]


def notice_statements(ctx, conn, box_id: str, record: dict[str, Any]) -> list[Statement]:
    notice = record["body"]
    district = ctx.district_of(conn, box_id)
    return [(
        "insert into hub_notices (box_id, number, kind, district_code, alert_id,"
        " case_no, dept_code, dept_suffix, issued_at, issued_on, due_on, content, html)"
        " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing",
        (box_id, notice["number"], notice["kind"], district, notice.get("alert_id"),
         notice.get("case_no"), notice.get("dept_code"),
         dept_suffix(notice.get("dept_code"), district) if notice.get("dept_code") else None,
         notice["issued_at"], notice["issued_on"], notice.get("due_on"),
         json.dumps(notice.get("content") or {}, ensure_ascii=False),
         notice["html"] if isinstance(notice.get("html"), str) else None))]


_RATING_COLUMNS = ("district_code", "dept_code", "dept_suffix", "rated_on", "effective", "level",
                   "invalid", "case_no", "item_code")
_UPSERT_RATING = (
    "insert into hub_ratings (box_id, rating_id, district_code, dept_code, dept_suffix,"
    " case_no, window_no, channel, level, effective, invalid, rated_at, rated_on, item_code)"
    " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict(box_id, rating_id) do update"
    " set dept_code = excluded.dept_code, dept_suffix = excluded.dept_suffix,"
    " case_no = excluded.case_no, level = excluded.level, effective = excluded.effective,"
    " invalid = excluded.invalid, item_code = excluded.item_code")
_UPDATED_BY_UPSERT = ("dept_code", "dept_suffix", "level", "effective", "invalid", "case_no",
                      "item_code")
_BUMP_RATING_DAILY = (
    "insert into hub_rating_daily as d (day, district_code, dept_code, dept_suffix, total,"
    " counted, satisfied, bad, invalid) values (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " on conflict (day, district_code, dept_code) do update set"
    " total = d.total + excluded.total,"
    " counted = d.counted + excluded.counted, satisfied = d.satisfied + excluded.satisfied,"
    " bad = d.bad + excluded.bad, invalid = d.invalid + excluded.invalid")


def _rating_row(district: str, box_id: str, record: dict[str, Any], items: dict[str, str]
                ) -> tuple[dict, tuple]:
    """The rating's counted columns and its upsert's parameters (``items``: the stored
    cases' items by number, ratingitems.case_items)."""
    rating = record["body"]
    invalid = bool(rating.get("invalid_reason"))
    effective = bool(rating.get("counted", True)) and not invalid \
        and rating.get("superseded_by") is None
    dept = rating.get("dept_code") or ""
    new = {"district_code": district, "dept_code": dept,
           "dept_suffix": dept_suffix(dept, district), "rated_on": local_date_of(
               rating["rated_at"]), "effective": int(effective), "level": int(rating["level"]),
           "invalid": int(invalid), "case_no": rating.get("case_no"),
           "item_code": items.get(rating.get("case_no"))}
    return new, (box_id, rating["id"], district, dept, new["dept_suffix"], rating.get("case_no"),
                 rating.get("window_no"), rating.get("channel"), new["level"], new["effective"],
                 new["invalid"], rating["rated_at"], new["rated_on"], new["item_code"])


def _stored(found: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """What the upsert leaves in the row: the columns it updates are the new ones."""
    return new if found is None else {**found, **{name: new[name] for name in _UPDATED_BY_UPSERT}}


def apply_rating(ctx, conn: sqlite3.Connection, box_id: str, record: dict[str, Any]) -> None:
    """The rating's latest state; ``hub_rating_daily`` follows by delta (old out, new in)."""
    district = ctx.district_of(conn, box_id)
    found = conn.execute(f"select {', '.join(_RATING_COLUMNS)} from hub_ratings"
                         " where box_id = ? and rating_id = ?",
                         (box_id, record["body"]["id"])).fetchone()
    items = ratingitems.case_items(conn, district, [record["body"].get("case_no")])
    new, params = _rating_row(district, box_id, record, items)
    conn.execute(_UPSERT_RATING, params)
    found = found and dict(zip(_RATING_COLUMNS, found))
    for rating, sign in ((found, -1), (new, +1)):
        if rating:
            key, extra, vector = _rating_delta(rating, sign)
            conn.execute(_BUMP_RATING_DAILY, (*key, *extra, *vector))
    by_item = Deltas(3)
    ratingitems.add_rating(by_item, found, -1)
    ratingitems.add_rating(by_item, _stored(found, new), +1)
    run(conn, [(ratingitems.BUMP, row) for row in by_item.rows()])


def apply_ratings(ctx, conn, box_id: str, records: list[dict[str, Any]]) -> None:
    """:func:`apply_rating` for a batch: its ratings read in one query, then written in order
    with one executemany, and ``hub_rating_daily`` with one row per (day, dept), written last
    in the transaction (hub/storage/lastwrites.py)."""
    district = ctx.district_of(conn, box_id)
    ids = list(dict.fromkeys(record["body"]["id"] for record in records))
    held: dict[Any, dict[str, Any]] = {}
    for chunk in chunks(ids):
        for found in conn.execute(f"select rating_id, {', '.join(_RATING_COLUMNS)}"
                                  " from hub_ratings where box_id = ?"
                                  f" and rating_id in ({marks(chunk)})", (box_id, *chunk)):
            held[found[0]] = dict(zip(_RATING_COLUMNS, found[1:]))
    items = ratingitems.case_items(conn, district,
                                   [record["body"].get("case_no") for record in records])
    upserts, daily, by_item = [], Deltas(5), Deltas(3)
    for record in records:
        new, params = _rating_row(district, box_id, record, items)
        upserts.append(params)
        rating_id = record["body"]["id"]
        found = held.get(rating_id)
        if found is not None:
            daily.add(*_rating_delta(found, -1))
        daily.add(*_rating_delta(new, +1))
        held[rating_id] = _stored(found, new)
        ratingitems.add_rating(by_item, found, -1)
        ratingitems.add_rating(by_item, held[rating_id], +1)
    run(conn, [(_UPSERT_RATING, params) for params in upserts])
    # Last in the transaction and sorted: other boxes' batches add to the same rows.
    write_last(conn, _BUMP_RATING_DAILY, daily.rows(), key_width=3, extra_width=1)
    write_last(conn, ratingitems.BUMP, by_item.rows(), key_width=4, extra_width=0)


def _rating_delta(rating: dict[str, Any], sign: int) -> tuple[tuple, tuple, tuple]:
    """A rating's share of ``hub_rating_daily``: (key, (dept_suffix,), counts × sign)."""
    counted = rating["effective"]
    return ((rating["rated_on"], rating["district_code"], rating["dept_code"] or ""),
            (rating["dept_suffix"] or "",),
            (sign, sign * counted, sign * (counted and rating["level"] in SATISFIED_LEVELS),
             sign * (counted and rating["level"] in BAD_LEVELS), sign * rating["invalid"]))


def followup_statements(ctx, conn, box_id: str, record: dict[str, Any]) -> list[Statement]:
    state = record["body"].get("followup") or {}
    if "rating_id" not in state:
        return []
    return [(
        "insert into hub_followups (box_id, rating_id, district_code, state, opened_on,"
        " return_call_due, rectify_due, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?)"
        " on conflict(box_id, rating_id) do update set state = excluded.state,"
        " return_call_due = excluded.return_call_due, rectify_due = excluded.rectify_due,"
        " updated_at = excluded.updated_at",
        (box_id, state["rating_id"], ctx.district_of(conn, box_id), state.get("state"),
         state.get("opened_on"), state.get("return_call_due"), state.get("rectify_due"),
         state.get("updated_at")))]

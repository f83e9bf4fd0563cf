"""Rating counts per window, staff member and department (``hallwatch edge ratings``).

Counting rules (docs/evaluations.md): repeats (一次一评), ratings an appeal found invalid and
assumed ratings replaced by a real one are kept but not counted. The satisfaction rate is
levels 4–5 over all counted ratings.

Example::

    report = rating_report(store, since=dt.date(2026, 11, 1), until=dt.date(2026, 12, 1),
                           today=dt.date(2026, 11, 30))
    report["departments"][0]["satisfaction"]   # e.g. 0.93
    report["hall"]["counted"]                  # the whole hall
    for row in rating_rows(store, since=dt.date(2026, 11, 1), until=dt.date(2026, 12, 1)):
        row["state"], uncounted_reason(row)    # e.g. ("待回访", "")
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from edge.evaluations.followups import (
    AWAITING_CALL,
    INVALIDATED,
    RECTIFIED,
    RECTIFYING,
    overdue_rules,
)
from edge.evaluations.rows import rated_between
from edge.store import Store
from standard.evaluations import BAD_LEVELS, SATISFIED_LEVELS
from standard.records import LOCAL_TZ

GROUPS = (("windows", "window_no"), ("staff", "staff_id"), ("departments", "dept_code"))
STATES = (AWAITING_CALL, RECTIFYING, RECTIFIED, INVALIDATED)
UNKNOWN = "（未知）"  # the key of ratings not linked to a window, staff member or department


def _empty(key: Any, label: str | None) -> dict[str, Any]:
    return {"key": key, "label": label, "total": 0, "counted": 0,
            "levels": {str(level): 0 for level in range(5, 0, -1)}, "satisfaction": None,
            "bad": 0, "repeats": 0, "invalid": 0, "defaulted": 0,
            "followups": {**{state: 0 for state in STATES}, "overdue": 0}}


def rating_report(store: Store, *, since: dt.date | None = None, until: dt.date | None = None,
                  today: dt.date | None = None) -> dict[str, Any]:
    """Counts per window, staff and department, and for the whole hall (``"hall"``), of the
    ratings from local day ``since`` up to, not including, ``until``; ``today`` (local)
    decides what is overdue."""
    clauses, params = rated_between(since, until)
    sql = ("select r.level, r.counted, r.repeat_of, r.invalid_reason, r.defaulted, r.window_no,"
           " r.staff_id, r.staff_name, r.dept_code, f.state, f.return_call_due, f.rectify_due"
           " from ratings r left join review_followups f on f.rating_id = r.id"
           " where " + " and ".join(["r.superseded_by is null", *clauses]))
    day = (today or dt.datetime.now(LOCAL_TZ).date()).isoformat()
    groups: dict[str, dict[Any, dict[str, Any]]] = {name: {} for name, _ in GROUPS}
    hall = _empty("hall", "全大厅")
    for row in store.query(sql, params):
        _add(hall, row, day)
        for name, column in GROUPS:
            key = row[column]
            if key is None:
                key = UNKNOWN
            label = row["staff_name"] if column == "staff_id" else None
            entry = groups[name].setdefault(key, _empty(key, label))
            entry["label"] = entry["label"] or label
            _add(entry, row, day)
    result: dict[str, Any] = {"since": since.isoformat() if since else None,
                              "until": until.isoformat() if until else None, "today": day,
                              "hall": _rate(hall)}
    for name, _ in GROUPS:
        entries = sorted(groups[name].values(), key=lambda e: (str(type(e["key"])), e["key"]))
        result[name] = [_rate(entry) for entry in entries]
    return result


def _rate(entry: dict[str, Any]) -> dict[str, Any]:
    """Fill in the satisfaction rate: levels 4–5 over the counted ratings."""
    if entry["counted"]:
        good = sum(entry["levels"][str(level)] for level in SATISFIED_LEVELS)
        entry["satisfaction"] = round(good / entry["counted"], 4)
    return entry


def _add(entry: dict[str, Any], row: dict[str, Any], today: str) -> None:
    entry["total"] += 1
    if row["repeat_of"] is not None:
        entry["repeats"] += 1
    if row["invalid_reason"]:
        entry["invalid"] += 1
    if row["counted"]:
        entry["counted"] += 1
        entry["levels"][str(row["level"])] += 1
        entry["defaulted"] += bool(row["defaulted"])
        entry["bad"] += row["level"] in BAD_LEVELS
    if row["state"]:
        entry["followups"][row["state"]] += 1
        entry["followups"]["overdue"] += bool(overdue_rules(
            row["state"], row["return_call_due"], row["rectify_due"], today))


def rating_rows(store: Store, *, since: dt.date, until: dt.date) -> list[dict[str, Any]]:
    """Every rating rated on local days ``since`` up to, not including, ``until``, oldest
    first, with its follow-up's state and deadlines (None when it has none). Uncounted ratings
    are included (see :func:`uncounted_reason`); the citizen's name and phone never are."""
    clauses, params = rated_between(since, until)
    return store.query(
        "select r.id, r.rated_at, r.channel, r.level, r.case_no, r.window_no, r.staff_id,"
        " r.staff_name, r.dept_code, r.counted, r.repeat_of, r.superseded_by, r.defaulted,"
        " r.invalid_reason, f.state, f.return_call_due, f.rectify_due"
        " from ratings r left join review_followups f on f.rating_id = r.id"
        " where " + " and ".join(clauses) + " order by r.rated_at, r.id", params)


def uncounted_reason(rating: dict[str, Any]) -> str:
    """Why a rating is not counted, in Chinese ("" when it is): 申诉撤销（恶意）, 默认好评被替换,
    重复评价."""
    if rating["invalid_reason"]:
        return f"申诉撤销（{rating['invalid_reason']}）"
    if rating["superseded_by"] is not None:
        return f"默认好评被替换（被评价 #{rating['superseded_by']} 取代）"
    if rating["repeat_of"] is not None:
        return f"重复评价（首次评价 #{rating['repeat_of']}）"
    return ""

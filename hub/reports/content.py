"""What a monthly supervision report (月度电子监察报告) says, gathered from the hub's views.

A report covers one unit and one month: ``city`` (every unit of the city) or a district code.
Its content is a JSON-able dict, computed once when the month's scores are published and
stored with the report, so a report read next year still says what it said that day.

Sources, all read with portable SQL (no engine-specific functions):

- cases, on-time rates, cards, ratings and substantiated complaints: the published score
  version's per-unit inputs (``unit_scores``), the same numbers the scores were computed from;
- how the month's cards were closed: ``hub_alerts`` opened in the month, by card and state;
- complaints received: ``complaints`` submitted in the month, by state;
- absences: ``hub_absences`` begun in the month, their count and minutes;
- ranking and its change: this month's ranks against the previous month's published ranks.

Example::

    content = report_content(data, book, run, "440605")
    content["totals"]["on_time_rate"]   # 96.4
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from hub.scorebook import Run, Scorebook
from hub.services import HubData, Scope
from hub.units import month_bounds, unit_registry
from standard.supervision import CARD_NAMES, STATE_NAMES as ALERT_STATES

CITY = "city"
CLOSED_STATES = ("closed", "resolved", "rectified", "accepted")
COMPLAINT_STATES = {"submitted": "待受理", "accepted": "已受理", "forwarded": "已转办",
                    "replied": "已答复", "rejected": "不予受理", "closed": "已办结"}
LEVEL_NAMES = {"5": "非常满意", "4": "满意", "3": "基本满意", "2": "不满意", "1": "非常不满意"}


def previous_of(month: str) -> str:
    first, _ = month_bounds(month)
    before = first - dt.timedelta(days=1)
    return f"{before.year}-{before.month:02d}"


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _summary(inputs: dict[str, Any]) -> dict[str, Any]:
    """The figures a report shows from one unit's score inputs."""
    ratings = {level: int(n) for level, n in (inputs.get("ratings") or {}).items()}
    rated = sum(ratings.values())
    bad = ratings.get("1", 0) + ratings.get("2", 0)
    return {
        "cases": inputs.get("cases", 0), "due": inputs.get("due", 0),
        "on_time": inputs.get("on_time", 0), "finished": inputs.get("finished", 0),
        "early": inputs.get("early", 0), "late": inputs.get("late", 0),
        "on_time_rate": _pct(inputs.get("on_time", 0), inputs.get("due", 0)),
        "early_rate": _pct(inputs.get("early", 0), inputs.get("finished", 0)),
        "yellow_cards": inputs.get("yellow_cards", 0), "red_cards": inputs.get("red_cards", 0),
        "ratings": rated, "bad_ratings": bad,
        "satisfied_rate": _pct(rated - bad, rated),
        "levels": [{"level": level, "name": name, "count": ratings.get(level, 0)}
                   for level, name in LEVEL_NAMES.items()],
        "complaints_substantiated": inputs.get("complaints", 0),
    }


def _ranks(book: Scorebook, month: str) -> dict[tuple[str, str, str], int | None]:
    """(kind, district, dept) → rank in the month's newest published version (empty: none)."""
    run = book.current(month, published_only=True)
    if run is None:
        return {}
    return {(row["unit_kind"], row["district_code"], row["dept_code"]): row["rank"]
            for row in book.scores(run, Scope.city())}


def _ranking(rows: list[dict], before: dict, kind: str) -> list[dict[str, Any]]:
    ranked = []
    for row in rows:
        if row["unit_kind"] != kind:
            continue
        old = before.get((kind, row["district_code"], row["dept_code"]))
        change = (old - row["rank"]) if old and row["rank"] else None
        ranked.append({"name": row["unit_name"], "code": row["dept_code"] or
                       row["district_code"], "score": row["score"], "rank": row["rank"],
                       "previous_rank": old, "change": change, "cases": row["cases"]})
    return ranked


def _in(codes: list[str]) -> tuple[str, tuple]:
    return f"({', '.join('?' * len(codes))})", tuple(codes)


def _cards(data: HubData, codes: list[str], first: str, last: str) -> list[dict[str, Any]]:
    marks, params = _in(codes)
    rows = data.query(f"select card, state, count(*) as n from hub_alerts where card is not null"
                      " and state <> 'withdrawn'"  # void cards (作废) are not the month's
                      f" and opened_on between ? and ? and district_code in {marks}"
                      " group by card, state", (first, last, *params))
    cards = []
    for card, name in CARD_NAMES.items():
        states = Counter({row["state"]: row["n"] for row in rows if row["card"] == card})
        total = sum(states.values())
        closed = sum(states[state] for state in CLOSED_STATES)
        cards.append({"card": card, "name": name, "total": total, "closed": closed,
                      "closed_rate": _pct(closed, total),
                      "states": [{"state": ALERT_STATES.get(state, state), "count": n}
                                 for state, n in sorted(states.items(), key=lambda i: -i[1])]})
    return cards


def _complaints(data: HubData, codes: list[str], first: str, last: str) -> dict[str, Any]:
    marks, params = _in(codes)
    rows = data.query(f"select state, count(*) as n from complaints where submitted_on"
                      f" between ? and ? and district_code in {marks} group by state",
                      (first, last, *params))
    states = {row["state"]: row["n"] for row in rows}
    total = sum(states.values())
    answered = states.get("replied", 0) + states.get("closed", 0) + states.get("rejected", 0)
    return {"total": total, "answered": answered, "answered_rate": _pct(answered, total),
            "states": [{"state": name, "count": states[state]}
                       for state, name in COMPLAINT_STATES.items() if states.get(state)]}


def _minutes(start: str | None, end: str | None) -> float:
    if not start or not end:
        return 0.0
    try:
        span = dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)
    except ValueError:
        return 0.0
    return max(span.total_seconds() / 60.0, 0.0)


def _absences(data: HubData, codes: list[str], first: str, last: str,
              names: dict[str, str]) -> dict[str, Any]:
    marks, params = _in(codes)
    rows = data.query(f"select district_code, started_at, ended_at from hub_absences where"
                      f" started_on between ? and ? and district_code in {marks}",
                      (first, last, *params))
    per: dict[str, list[float]] = {}
    for row in rows:
        per.setdefault(row["district_code"], []).append(
            _minutes(row["started_at"], row["ended_at"]))
    return {"total": len(rows), "minutes": round(sum(sum(v) for v in per.values()), 1),
            "units": [{"name": names.get(code, code), "count": len(values),
                       "minutes": round(sum(values), 1)} for code, values in sorted(per.items())]}


def report_content(data: HubData, book: Scorebook, run: Run, unit: str) -> dict[str, Any]:
    """Everything the report of ``unit`` (``city`` or a district code) for ``run`` shows."""
    names = unit_registry()
    month = run.month
    first, last = (day.isoformat() for day in month_bounds(month))
    rows = book.scores(run, Scope.city())
    before = _ranks(book, previous_of(month))
    codes = list(names) if unit == CITY else [unit]
    units = [row for row in rows if row["unit_kind"] == "district"
             and row["district_code"] in codes]
    pooled: Counter = Counter()
    ratings: Counter = Counter()
    for row in units:
        for key, value in row["inputs"].items():
            if isinstance(value, (int, float)):
                pooled[key] += value
        ratings.update({k: int(v) for k, v in (row["inputs"].get("ratings") or {}).items()})
    totals = _summary({**pooled, "ratings": dict(ratings)})
    depts = [row for row in rows if row["unit_kind"] == "dept"
             and row["district_code"] in codes]
    unit_name = "全市" if unit == CITY else names.get(unit, unit)
    year, number = month.split("-")
    place = data.city_name if unit == CITY else f"{data.city_name}{unit_name}"
    return {
        "version": 1, "month": month, "unit": unit, "unit_name": unit_name,
        "title": f"{place}{year}年{int(number)}月电子监察报告", "city_name": data.city_name,
        "score_version": run.version, "published_at": run.published_at,
        "formula": run.formula, "period": [first, last],
        "totals": totals,
        "units": [{"name": row["unit_name"], **_summary(row["inputs"])} for row in units],
        "cards": _cards(data, codes, first, last),
        "complaints": _complaints(data, codes, first, last),
        "absences": _absences(data, codes, first, last, names),
        "district_ranking": _ranking(rows, before, "district"),
        "dept_ranking": _ranking(depts, before, "dept"),
        "previous_month": previous_of(month) if before else None,
    }

"""Quarter, half-year and year scores: means of the *published* months, with quarterly and
annual grades.

A draft never counts: an unfinished month averaged in would drag every grade down. Each
month contributes its newest published version; a month a unit had no cases (无办件) is left
out of that unit's means. The grade bands are the formula's ``[[grades]]`` (the current file),
applied to each quarter's mean and to the year's.

Example::

    rows = period_scores(book, 2026, Scope.city(), config)
    rows[0]["Q4"], rows[0]["Q4_grade"], rows[0]["Q4_published"]   # 91.3, '良好', 3
    rows[0]["Y"], rows[0]["Y_grade"]                                # 88.0, '良好'
"""

from __future__ import annotations

from typing import Any

from hub.scorebook import Scorebook
from hub.scoring_config import ScoringConfig
from hub.services import Scope
from hub.units import months_of

PERIODS = ("Q1", "Q2", "Q3", "Q4", "H1", "H2", "Y")


def period_scores(book: Scorebook, year: int, scope: Scope,
                  config: ScoringConfig) -> list[dict[str, Any]]:
    """Per unit: each published month's score, the periods' means, the quarters' and the
    year's grades."""
    units: dict[tuple, dict[str, Any]] = {}
    published: set[str] = set()
    for month in months_of(year, "Y"):
        run = book.current(month, published_only=True)
        if run is None:
            continue
        published.add(month)
        for row in book.scores(run, scope):
            key = (row["unit_kind"], row["district_code"], row["dept_code"])
            unit = units.setdefault(key, {"kind": row["unit_kind"],
                                          "district_code": row["district_code"],
                                          "dept_code": row["dept_code"],
                                          "name": row["unit_name"], "months": {}})
            unit["months"][month] = row["score"]
    for unit in units.values():
        for period in PERIODS:
            months = months_of(year, period)
            values = [unit["months"][m] for m in months
                      if unit["months"].get(m) is not None]
            unit[period] = round(sum(values) / len(values), 2) if values else None
            unit[f"{period}_months"] = len(values)
            unit[f"{period}_published"] = len(published & set(months))
            if period.startswith("Q") or period == "Y":
                unit[f"{period}_grade"] = config.grade(unit[period])
    return sorted(units.values(), key=lambda u: (u["kind"] != "district", u["name"]))

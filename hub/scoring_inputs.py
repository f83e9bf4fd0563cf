"""What the score formula counts, per department and month, read from the hub's views.

All the SQL the scores read is here, and it is kept plain (``case when``, ``count``, ``sum``,
``group by``, a join; no SQLite-only functions) so that it runs unchanged on PostgreSQL.
Dates ending ``_on`` are local ISO dates, compared as text.

A department is ``(district_code, dept_code)``, the full code the catalogue uses (440605SCJ).
Its *cases* (本月经办件数) are the cases accepted by the month's end and not finished before
it began: every case the department had on its desk during the month. That number is the
denominator of the per-100-cases rates and the weight of the department in its district.
A joint case (联办件) counts for each participating department too, from 分送 to its 反馈, and
its share is due by that department's own limit (``_shares``).

Example::

    counts = month_counts(data, config, "2026-10")
    counts[("440605", "440605SCJ")].cases
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hub.projections.cases import CONCLUDED
from hub.projections.supervision import RED_CARD_NOTICE, YELLOW_CARD_NOTICE
from hub.scoring_config import ScoringConfig
from hub.services import HubData
from hub.units import local_date_of, month_bounds, unit_of_dept, unit_registry
from standard.records import STAGE_RANK

Key = tuple[str, str]  # (district_code, dept_code)
# What the month's reads need beyond the views' own indexes: cases by deadline.
# Created by migration 1 (hub/storage/migrations.py); a later change needs a new migration.
SCHEMA = "create index if not exists hub_cases_deadline on hub_cases(deadline);"


@dataclass
class Counts:
    """One department's month: every number a score line shows."""

    cases: int = 0  # 本月经办件数
    due: int = 0  # deadline in the month (finished, or open and already past it)
    on_time: int = 0  # of those, finished by the deadline
    finished: int = 0  # concluded in the month with a known deadline
    early: int = 0
    late: int = 0
    concluded: int = 0  # concluded in the month (办结 or 不予许可)
    complete: int = 0  # of those, every required stage reported
    yellow_cards: int = 0
    red_cards: int = 0
    warned_cases: int = 0  # cases warned `repeats` times or more in the month
    dubans_due: int = 0
    dubans_late: int = 0
    ratings: Counter = field(default_factory=Counter)  # level → effective ratings
    invalid_ratings: int = 0
    complaints: int = 0  # substantiated (属实 or 部分属实) in the month
    platform_records: int = 0  # records the platform counted in the month's reconciliations
    missing_records: int = 0  # of those, how many the box did not have

    def add(self, other: Counts) -> None:
        for name, value in vars(other).items():
            if isinstance(value, Counter):
                getattr(self, name).update(value)
            else:
                setattr(self, name, getattr(self, name) + value)


def _mask(stages: list[str]) -> int:
    return sum(1 << (STAGE_RANK[name] - 1) for name in set(stages))


def _in(values) -> str:
    return ", ".join("?" * len(values))


CONCLUDED_TERMINALS = tuple(sorted(CONCLUDED))


def month_counts(data: HubData, config: ScoringConfig, month: str) -> dict[Key, Counts]:
    """Every department with anything in ``month`` (or in the catalogue) and its counts."""
    first, last = (day.isoformat() for day in month_bounds(month))
    today = data.today().isoformat()
    registry = unit_registry()
    units: dict[Key, Counts] = {}

    def unit(district: str, dept: str | None) -> Counts | None:
        if not dept or unit_of_dept(dept) != district or district not in registry:
            return None  # not a department of a known unit: not scored
        return units.setdefault((district, dept), Counts())

    for item in data.catalogue.values():
        unit(unit_of_dept(item.dept_code), item.dept_code)
    done = _in(CONCLUDED_TERMINALS)
    # Open now and accepted by the month's end, or finished since it began: two indexed reads.
    for where in ("is_open = 1", "finished_on >= ?"):
        for row in data.query(
                "select district_code, dept_code, count(*) as n from hub_cases"
                f" where {where} and accepted_on <= ? group by district_code, dept_code",
                (last,) if where == "is_open = 1" else (first, last)):
            if (counts := unit(row["district_code"], row["dept_code"])) is not None:
                counts.cases += row["n"]
    for row in data.query(
            "select district_code, dept_code,"
            " sum(case when terminal is null and deadline < ? then 1"
            f" when terminal in ({done}) then 1 else 0 end) as due,"
            f" sum(case when terminal in ({done}) and outcome in ('early', 'on_time')"
            " then 1 else 0 end) as on_time"
            " from hub_cases where deadline >= ? and deadline <= ?"
            " group by district_code, dept_code",
            (today, *CONCLUDED_TERMINALS, *CONCLUDED_TERMINALS, first, last)):
        if (counts := unit(row["district_code"], row["dept_code"])) is not None:
            counts.due += row["due"] or 0
            counts.on_time += row["on_time"] or 0
    _shares(data, first, last, today, unit)
    _concluded(data, config, first, last, unit)
    _supervision(data, config, first, last, today, unit)
    _ratings_and_complaints(data, first, last, unit)
    _reconciled(data, first, last, unit)
    return units


def _shares(data: HubData, first: str, last: str, today: str, unit) -> None:
    """Joint cases (联办件) count for each participating department too, by its own share
    (hub_case_shares): the case is on its desk from 分送 (or 受理) until its 反馈; its share
    is due, and on time or not, by the department's own limit, as the box judges it; its 反馈
    is its 办结 (early, or late, by that limit). A share stops at 反馈, or when the case
    concludes; a case ended otherwise (不予受理, 退回) is not counted for a share that had not
    answered, as it is not for the lead department."""
    done = _in(CONCLUDED_TERMINALS)
    stopped = f"(s.back_on is not null or c.terminal in ({done}))"
    joined = (" from hub_case_shares s join hub_cases c on c.district_code = s.district_code"
              " and c.case_no = s.case_no where s.dept_code <> c.dept_code")
    for row in data.query(
            "select s.district_code, s.dept_code, count(*) as n" + joined +
            " and s.started_on <= ? and (s.back_on is null or s.back_on >= ?)"
            " and (c.finished_on is null or c.finished_on >= ?)"
            " group by s.district_code, s.dept_code", (last, first, first)):
        if (counts := unit(row["district_code"], row["dept_code"])) is not None:
            counts.cases += row["n"]
    for row in data.query(
            "select s.district_code, s.dept_code,"
            f" sum(case when {stopped} or s.deadline < ? then 1 else 0 end) as due,"
            f" sum(case when {stopped} and s.state = 'done' then 1 else 0 end) as on_time"
            + joined + " and s.deadline >= ? and s.deadline <= ?"
            f" and (c.terminal is null or c.terminal in ({done}) or s.back_on is not null)"
            " group by s.district_code, s.dept_code",
            (*CONCLUDED_TERMINALS, today, *CONCLUDED_TERMINALS, first, last,
             *CONCLUDED_TERMINALS)):
        if (counts := unit(row["district_code"], row["dept_code"])) is not None:
            counts.due += row["due"] or 0
            counts.on_time += row["on_time"] or 0
    for row in data.query(  # 反馈 in the month: the share's 办结, early or late by its limit
            "select s.district_code, s.dept_code, count(*) as finished,"
            " sum(case when s.back_on < s.deadline then 1 else 0 end) as early,"
            " sum(case when s.state = 'late' then 1 else 0 end) as late" + joined +
            " and s.back_on >= ? and s.back_on <= ? and s.deadline is not null"
            " group by s.district_code, s.dept_code", (first, last)):
        if (counts := unit(row["district_code"], row["dept_code"])) is not None:
            for name in ("finished", "early", "late"):
                setattr(counts, name, getattr(counts, name) + (row[name] or 0))


def _concluded(data: HubData, config: ScoringConfig, first: str, last: str, unit) -> None:
    rep = config.reporting
    quick_types = list(rep.immediate_case_types) or [""]
    normal, quick = _mask(rep.required_stages), _mask(rep.immediate_required_stages)
    strict = 1 if rep.anomalies_incomplete else 0
    for row in data.query(
            "select district_code, dept_code, count(*) as concluded,"
            f" sum(case when case_type in ({_in(quick_types)}) and (stages_mask & ?) <> ? then 0"
            f" when (case_type is null or case_type not in ({_in(quick_types)}))"
            " and (stages_mask & ?) <> ? then 0"
            " when anomalies > 0 and ? = 1 then 0 else 1 end) as complete,"
            " sum(case when outcome is not null then 1 else 0 end) as finished,"
            " sum(case when outcome = 'early' then 1 else 0 end) as early,"
            " sum(case when outcome = 'late' then 1 else 0 end) as late"
            f" from hub_cases where finished_on >= ? and finished_on <= ?"
            f" and terminal in ({_in(CONCLUDED_TERMINALS)}) group by district_code, dept_code",
            (*quick_types, quick, quick, *quick_types, normal, normal, strict, first, last,
             *CONCLUDED_TERMINALS)):
        if (counts := unit(row["district_code"], row["dept_code"])) is not None:
            for name in ("concluded", "complete", "finished", "early", "late"):
                setattr(counts, name, getattr(counts, name) + (row[name] or 0))


def _supervision(data: HubData, config: ScoringConfig, first: str, last: str, today: str,
                 unit) -> None:
    # A card whose alert was withdrawn (later-arriving events disproved it) is void: not counted,
    # nor are the warnings of withdrawn alerts (edge/supervision/withdrawal.py).
    for row in data.query(
            "select n.district_code, n.dept_code, n.kind, count(*) as n from hub_notices n"
            " left join hub_alerts a on a.box_id = n.box_id and a.alert_id = n.alert_id"
            " where n.issued_on >= ? and n.issued_on <= ?"
            " and (a.state is null or a.state <> 'withdrawn')"
            " group by n.district_code, n.dept_code, n.kind", (first, last)):
        counts = unit(row["district_code"], row["dept_code"])
        if counts is not None and row["kind"] == YELLOW_CARD_NOTICE:
            counts.yellow_cards += row["n"]
        elif counts is not None and row["kind"] == RED_CARD_NOTICE:
            counts.red_cards += row["n"]
    for row in data.query(
            "select district_code, dept_code, count(*) as n from ("
            " select district_code, dept_code, case_no from hub_alerts"
            " where opened_on >= ? and opened_on <= ? and level = 'yellow'"
            " and state <> 'withdrawn' and case_no is not null"
            " group by district_code, dept_code, case_no"
            " having count(*) >= ?) as warned group by district_code, dept_code",
            (first, last, config.warnings.repeats)):
        if (counts := unit(row["district_code"], row["dept_code"])) is not None:
            counts.warned_cases += row["n"]
    for row in data.query(
            "select d.id, d.district_code, d.dept_code, d.due_on, min(e.at) as answered_at"
            " from dubans d left join duban_events e on e.duban_id = d.id"
            " and e.action in ('answer', 'close')"
            " where d.due_on >= ? and d.due_on <= ? and d.issuer = 'city'"
            " group by d.id, d.district_code, d.dept_code, d.due_on", (first, last)):
        counts = unit(row["district_code"], row["dept_code"])
        if counts is None:
            continue
        counts.dubans_due += 1
        answered_on = local_date_of(row["answered_at"])
        if (answered_on or today) > row["due_on"]:
            counts.dubans_late += 1


def _reconciled(data: HubData, first: str, last: str, unit) -> None:
    """The platform's daily counts per item against the box's, summed per department."""
    for row in data.query(
            "select district_code, dept_code, sum(platform) as platform,"
            " sum(case when box < platform then platform - box else 0 end) as missing"
            " from hub_reconciliations where day >= ? and day <= ? and dept_code <> ''"
            " group by district_code, dept_code", (first, last)):
        if (counts := unit(row["district_code"], row["dept_code"])) is not None:
            counts.platform_records += row["platform"] or 0
            counts.missing_records += row["missing"] or 0


def _ratings_and_complaints(data: HubData, first: str, last: str, unit) -> None:
    for row in data.query(
            "select district_code, dept_code, level, sum(effective) as counted,"
            " sum(invalid) as invalid from hub_ratings where rated_on >= ? and rated_on <= ?"
            " group by district_code, dept_code, level", (first, last)):
        if (counts := unit(row["district_code"], row["dept_code"])) is not None:
            if row["counted"]:
                counts.ratings[int(row["level"])] += row["counted"]
            counts.invalid_ratings += row["invalid"] or 0
    for row in data.query(
            "select c.district_code, c.dept_suffix, count(*) as n from complaints c"
            " join complaint_findings f on f.complaint_id = c.id"
            " where f.found_on >= ? and f.found_on <= ? and f.finding in ('属实', '部分属实')"
            " and c.district_code is not null and c.dept_suffix is not null"
            " group by c.district_code, c.dept_suffix", (first, last)):
        district = row["district_code"]
        if (counts := unit(district, f"{district}{row['dept_suffix']}")) is not None:
            counts.complaints += row["n"]


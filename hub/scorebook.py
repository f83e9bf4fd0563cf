"""Stored monthly scores: versions, publication (which freezes a version) and period means.

A month's scores are kept as numbered versions. Computing a month writes a draft: version 1 the
first time; the same draft again while it is unpublished; version n+1 (a correction, 更正) once
version n is published. Publishing freezes the draft: triggers refuse any change to a published
version's rows, so a correction can only ever be a new version, shown as such.

Half-year and year scores are the mean of the months' scores, quarterly grades the band of the
quarter's mean (``ScoringConfig.grades``).

Example::

    book = Scorebook(store)
    run = book.save("2026-10", compute_month(data, config, "2026-10"), config, text, user="cli")
    book.publish("2026-10", user="admin")
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from hub.scoring import ScoringConfig, UnitScore
from hub.services import Scope
from hub.units import months_of, parse_month

SCHEMA = """
create table if not exists score_runs (
    month text not null, version integer not null,
    status text not null check (status in ('draft', 'published')),
    formula text not null, config_text text not null, computed_at text not null,
    computed_by text not null, published_at text, published_by text,
    primary key (month, version));
create table if not exists scores (
    month text not null, version integer not null, unit_kind text not null,
    district_code text not null, dept_code text not null, dept_suffix text,
    unit_name text not null, score real not null, rank integer not null,
    lines text not null, inputs text not null,
    primary key (month, version, unit_kind, district_code, dept_code));
create trigger if not exists score_runs_frozen before update on score_runs
    when old.status = 'published'
    begin select raise(abort, 'a published score version is frozen; compute a new version'); end;
create trigger if not exists score_runs_kept before delete on score_runs
    when old.status = 'published'
    begin select raise(abort, 'a published score version is kept'); end;
create trigger if not exists scores_frozen before update on scores
    when (select status from score_runs r where r.month = old.month
          and r.version = old.version) = 'published'
    begin select raise(abort, 'a published score version is frozen'); end;
create trigger if not exists scores_kept before delete on scores
    when (select status from score_runs r where r.month = old.month
          and r.version = old.version) = 'published'
    begin select raise(abort, 'a published score version is kept'); end;
create trigger if not exists scores_closed before insert on scores
    when (select status from score_runs r where r.month = new.month
          and r.version = new.version) = 'published'
    begin select raise(abort, 'a published score version is frozen'); end;
"""


class ScoresNotReady(LookupError):
    """There is nothing to publish or show for that month."""


@dataclass
class Run:
    month: str
    version: int
    status: str
    formula: str
    computed_at: str
    computed_by: str
    published_at: str | None
    published_by: str | None

    @property
    def published(self) -> bool:
        return self.status == "published"

    @property
    def label(self) -> str:
        state = "已发布" if self.published else "草稿（未发布）"
        return f"第{self.version}版{'（更正）' if self.version > 1 else ''} · {state}"


_RUN_COLUMNS = ("month, version, status, formula, computed_at, computed_by, published_at,"
                " published_by")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Scorebook:
    def __init__(self, store):
        self.store = store

    # -- writing ------------------------------------------------------------------------
    def save(self, month: str, results: list[UnitScore], config: ScoringConfig,
             config_text: str, *, user: str) -> Run:
        """Store ``results`` as the month's draft (a new version after a publication)."""
        month = parse_month(month)
        with self.store.transaction() as conn:
            row = conn.execute("select version, status from score_runs where month = ?"
                               " order by version desc limit 1", (month,)).fetchone()
            if row and row[1] == "draft":
                version = row[0]
                conn.execute("delete from scores where month = ? and version = ?",
                             (month, version))
                conn.execute("update score_runs set formula = ?, config_text = ?,"
                             " computed_at = ?, computed_by = ? where month = ? and version = ?",
                             (config.formula, config_text, _now(), user, month, version))
            else:
                version = (row[0] + 1) if row else 1
                conn.execute("insert into score_runs (month, version, status, formula,"
                             " config_text, computed_at, computed_by) values"
                             " (?, ?, 'draft', ?, ?, ?, ?)",
                             (month, version, config.formula, config_text, _now(), user))
            conn.executemany(
                "insert into scores (month, version, unit_kind, district_code, dept_code,"
                " dept_suffix, unit_name, score, rank, lines, inputs)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(month, version, unit.kind, unit.district_code, unit.dept_code,
                  unit.dept_suffix, unit.name, unit.total, unit.rank,
                  json.dumps([line.__dict__ for line in unit.lines], ensure_ascii=False),
                  json.dumps(unit.inputs, ensure_ascii=False)) for unit in results])
        return self.run(month, version)

    def publish(self, month: str, *, user: str) -> Run:
        """Publish the month's draft; it is frozen from then on."""
        month = parse_month(month)
        with self.store.transaction() as conn:
            row = conn.execute("select version from score_runs where month = ? and"
                               " status = 'draft' order by version desc limit 1",
                               (month,)).fetchone()
            if row is None:
                raise ScoresNotReady(f"{month} 没有待发布的成绩，请先计算 (hallwatch hub score"
                                     f" --month {month}) (no draft scores for {month})")
            conn.execute("update score_runs set status = 'published', published_at = ?,"
                         " published_by = ? where month = ? and version = ?",
                         (_now(), user, month, row[0]))
        return self.run(month, row[0])

    # -- reading ------------------------------------------------------------------------
    def run(self, month: str, version: int) -> Run:
        rows = self.store.query(f"select {_RUN_COLUMNS} from score_runs where month = ?"
                                " and version = ?", (month, version))
        if not rows:
            raise ScoresNotReady(f"{month} 第{version}版成绩不存在")
        return Run(**rows[0])

    def runs(self, month: str | None = None, *, published_only: bool = False) -> list[Run]:
        sql = f"select {_RUN_COLUMNS} from score_runs where 1"
        params: list[Any] = []
        if month:
            sql += " and month = ?"
            params.append(month)
        if published_only:
            sql += " and status = 'published'"
        return [Run(**row) for row in self.store.query(sql + " order by month desc, version desc",
                                                       tuple(params))]

    def current(self, month: str, *, published_only: bool) -> Run | None:
        """The version to show: the newest (published only, for the public)."""
        runs = self.runs(month, published_only=published_only)
        return runs[0] if runs else None

    def months(self, *, published_only: bool) -> list[str]:
        return sorted({run.month for run in self.runs(published_only=published_only)},
                      reverse=True)

    def scores(self, run: Run, scope: Scope, kind: str | None = None) -> list[dict[str, Any]]:
        """The run's rows the scope may see, best first, lines decoded."""
        where, params = scope.sql()
        sql = ("select unit_kind, district_code, dept_code, dept_suffix, unit_name, score, rank,"
               f" lines, inputs from scores where month = ? and version = ? and {where}")
        args: list[Any] = [run.month, run.version, *params]
        if kind:
            sql += " and unit_kind = ?"
            args.append(kind)
        rows = self.store.query(sql + " order by unit_kind desc, rank, unit_name", tuple(args))
        for row in rows:
            row["lines"] = json.loads(row["lines"])
            row["inputs"] = json.loads(row["inputs"])
        return rows

    def unit(self, run: Run, scope: Scope, kind: str, district: str,
             dept: str) -> dict[str, Any] | None:
        return next((row for row in self.scores(run, scope, kind)
                     if row["district_code"] == district and row["dept_code"] == dept), None)

    def config_text(self, run: Run) -> str:
        rows = self.store.query("select config_text from score_runs where month = ?"
                                " and version = ?", (run.month, run.version))
        return rows[0]["config_text"] if rows else ""

    def periods(self, year: int, scope: Scope, config: ScoringConfig, *,
                published_only: bool) -> list[dict[str, Any]]:
        """Per unit: each month's score, Q1–Q4 means with grades, H1, H2 and the year's mean."""
        units: dict[tuple, dict[str, Any]] = {}
        for month in months_of(year, "Y"):
            run = self.current(month, published_only=published_only)
            if run is None:
                continue
            for row in self.scores(run, scope):
                key = (row["unit_kind"], row["district_code"], row["dept_code"])
                unit = units.setdefault(key, {"kind": row["unit_kind"],
                                              "district_code": row["district_code"],
                                              "dept_code": row["dept_code"],
                                              "name": row["unit_name"], "months": {}})
                unit["months"][month] = row["score"]
        for unit in units.values():
            for period in ("Q1", "Q2", "Q3", "Q4", "H1", "H2", "Y"):
                values = [unit["months"][m] for m in months_of(year, period) if m in unit["months"]]
                mean = round(sum(values) / len(values), 2) if values else None
                unit[period] = mean
                unit[f"{period}_months"] = len(values)
                if period.startswith("Q"):
                    unit[f"{period}_grade"] = config.grade(mean)
        return sorted(units.values(), key=lambda u: (u["kind"] != "district", u["name"]))

"""Stored monthly scores: versions, publication (which freezes a version), corrections, periods.

A month's scores are numbered versions. Computing a month writes a draft: version 1 the first
time, the same draft again while it is unpublished. Publishing freezes the draft; a correction
(更正) is then a new version that must give its reason, and every version stays readable.
Every version stores the formula file's text and fingerprint it was computed with, so a
published month keeps its formula even after the file changes.

A month is published only once it has ended and its draft was computed after its end, unless
the operator forces it with a reason; the forced publication is recorded on the version.

All the SQL of the score tables is in this module and is portable. The triggers that make a
published version's rows immutable are written in SQLite's spelling (:data:`SQLITE_TRIGGERS`)
and made PL/pgSQL for PostgreSQL by hub/storage/dialect.py; the code itself never writes a
published version either, whatever the database. The tables and triggers are created by
migration 1 (hub/storage/migrations.py): a change to them needs a new migration there.

Example::

    book = Scorebook(store, clock)
    book.save("2026-10", compute_month(data, config, "2026-10"), config, text, user="(自动)")
    book.publish("2026-10", user="admin")
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from hub.scoring import UnitScore
from hub.scoring_config import ScoringConfig, digest, parse_scoring
from hub.services import Scope
from hub.units import local_date_of, month_bounds, month_is_over, parse_month
from standard.records import LOCAL_TZ

SCHEMA = """
create table if not exists score_versions (
    month text not null, version integer not null,
    status text not null check (status in ('draft', 'published')),
    formula text not null, formula_digest text not null, config_text text not null,
    computed_at text not null, computed_by text not null, reason text,
    published_at text, published_by text, forced integer not null default 0,
    forced_reason text, primary key (month, version));
create table if not exists unit_scores (
    month text not null, version integer not null, unit_kind text not null,
    district_code text not null, dept_code text not null, dept_suffix text,
    unit_name text not null, cases integer not null, score real, base real, bonus real,
    rank integer, lines text not null, inputs text not null, members text not null,
    primary key (month, version, unit_kind, district_code, dept_code));
"""

SQLITE_TRIGGERS = """
create trigger if not exists score_versions_frozen before update on score_versions
    when old.status = 'published'
    begin select raise(abort, 'a published score version is frozen; compute a new version'); end;
create trigger if not exists score_versions_kept before delete on score_versions
    when old.status = 'published'
    begin select raise(abort, 'a published score version is kept'); end;
create trigger if not exists unit_scores_frozen before update on unit_scores
    when (select status from score_versions r where r.month = old.month
          and r.version = old.version) = 'published'
    begin select raise(abort, 'a published score version is frozen'); end;
create trigger if not exists unit_scores_kept before delete on unit_scores
    when (select status from score_versions r where r.month = old.month
          and r.version = old.version) = 'published'
    begin select raise(abort, 'a published score version is kept'); end;
create trigger if not exists unit_scores_closed before insert on unit_scores
    when (select status from score_versions r where r.month = new.month
          and r.version = new.version) = 'published'
    begin select raise(abort, 'a published score version is frozen'); end;
"""

AUTOMATIC = "(自动)"  # computed_by of the hub's own drafts


class ScoresNotReady(LookupError):
    """There is nothing to publish or show for that month."""


class PublishRefused(ValueError):
    """The month cannot be published now (not over, or a stale draft) without forcing."""


class CorrectionNeedsReason(ValueError):
    """A published month changes only by a correction, and a correction states its reason."""


@dataclass
class Run:
    month: str
    version: int
    status: str
    formula: str
    formula_digest: str
    computed_at: str
    computed_by: str
    reason: str | None
    published_at: str | None
    published_by: str | None
    forced: int
    forced_reason: str | None

    @property
    def published(self) -> bool:
        return self.status == "published"

    @property
    def label(self) -> str:
        state = "已发布" if self.published else "草稿（未发布）"
        return f"第{self.version}版{'（更正）' if self.version > 1 else ''} · {state}"


_RUN_COLUMNS = ("month, version, status, formula, formula_digest, computed_at, computed_by,"
                " reason, published_at, published_by, forced, forced_reason")
_SCORE_COLUMNS = ("month", "version", "unit_kind", "district_code", "dept_code", "dept_suffix",
                  "unit_name", "cases", "score", "base", "bonus", "rank", "lines", "inputs",
                  "members")


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:500] or None


class Scorebook:
    def __init__(self, store, clock: Callable[[], dt.datetime] | None = None):
        self.store = store
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))

    def _now(self) -> str:
        return self.clock().astimezone(dt.timezone.utc).isoformat(timespec="seconds")

    def today(self) -> dt.date:
        return self.clock().astimezone(LOCAL_TZ).date()

    # -- writing ------------------------------------------------------------------------
    def save(self, month: str, results: list[UnitScore], config: ScoringConfig,
             config_text: str, *, user: str, reason: str | None = None,
             unless_published: bool = False) -> Run | None:
        """Store ``results`` as the month's draft; after a publication, as a correction.

        A correction needs ``reason`` (:class:`CorrectionNeedsReason`). With
        ``unless_published`` (the hub's own drafts) a published month is left alone: None.
        """
        month = parse_month(month)
        reason = _text(reason)
        with self.store.transaction() as conn:
            row = conn.execute("select version, status, reason from score_versions"
                               " where month = ? order by version desc limit 1",
                               (month,)).fetchone()
            values = (config.formula, digest(config_text), config_text, self._now(), user)
            if row and row[1] == "draft":
                version = row[0]
                conn.execute("delete from unit_scores where month = ? and version = ?",
                             (month, version))
                conn.execute("update score_versions set formula = ?, formula_digest = ?,"
                             " config_text = ?, computed_at = ?, computed_by = ?, reason = ?"
                             " where month = ? and version = ? and status = 'draft'",
                             (*values, reason or row[2], month, version))
            else:
                if row and unless_published:
                    return None
                if row and not reason:
                    raise CorrectionNeedsReason(
                        f"{month} 已发布第{row[0]}版，如需更正请写明更正原因"
                        f"（将作为第{row[0] + 1}版）"
                        f" ({month} is published; a correction needs a reason)")
                version = (row[0] + 1) if row else 1
                conn.execute("insert into score_versions (month, version, status, formula,"
                             " formula_digest, config_text, computed_at, computed_by, reason)"
                             " values (?, ?, 'draft', ?, ?, ?, ?, ?, ?)",
                             (month, version, *values, reason if row else None))
            conn.executemany(
                f"insert into unit_scores ({', '.join(_SCORE_COLUMNS)})"
                f" values ({', '.join('?' * len(_SCORE_COLUMNS))})",
                [_score_row(month, version, unit) for unit in results])
        return self.run(month, version)

    def publish(self, month: str, *, user: str, force: bool = False,
                reason: str | None = None) -> Run:
        """Publish the month's draft; frozen from then on.

        Refused (:class:`PublishRefused`) while the month has not ended, or when its draft was
        computed before the month ended, unless ``force`` with a ``reason``, which is recorded.
        """
        month = parse_month(month)
        reason = _text(reason)
        if force and not reason:
            raise PublishRefused("强制发布须写明原因 (a forced publication needs a reason)")
        run = self.current(month, published_only=False)
        if run is None or run.published:
            raise ScoresNotReady(f"{month} 没有待发布的成绩，请先计算 (hallwatch hub score"
                                 f" --month {month}) (no draft scores for {month})")
        last = month_bounds(month)[1]
        if not force and not month_is_over(month, self.today()):
            raise PublishRefused(
                f"{month} 尚未结束（月末为 {last}），不能发布；确需提前发布，请选择强制发布并写明"
                f"原因 ({month} has not ended; force it with a reason)")
        if not force and (local_date_of(run.computed_at) or "") <= last.isoformat():
            raise PublishRefused(
                f"{month} 的草稿计算于月末之前（{local_date_of(run.computed_at)}），请先重新计算"
                f"再发布 (the draft predates the month's end; compute it again)")
        with self.store.transaction() as conn:
            done = conn.execute(
                "update score_versions set status = 'published', published_at = ?,"
                " published_by = ?, forced = ?, forced_reason = ?"
                " where month = ? and version = ? and status = 'draft'",
                (self._now(), user, 1 if force else 0, reason if force else None, month,
                 run.version)).rowcount
        if not done:
            raise ScoresNotReady(f"{month} 第{run.version}版刚被他人发布")
        return self.run(month, run.version)

    # -- reading ------------------------------------------------------------------------
    def run(self, month: str, version: int) -> Run:
        rows = self.store.query(f"select {_RUN_COLUMNS} from score_versions where month = ?"
                                " and version = ?", (month, version))
        if not rows:
            raise ScoresNotReady(f"{month} 第{version}版成绩不存在")
        return Run(**rows[0])

    def runs(self, month: str | None = None, *, published_only: bool = False) -> list[Run]:
        sql = f"select {_RUN_COLUMNS} from score_versions where 1 = 1"
        params: list[Any] = []
        if month:
            sql += " and month = ?"
            params.append(month)
        if published_only:
            sql += " and status = 'published'"
        return [Run(**row) for row in self.store.query(sql + " order by month desc, version desc",
                                                       tuple(params))]

    def current(self, month: str, *, published_only: bool) -> Run | None:
        """The version to show: the newest (the newest published, for the public)."""
        runs = self.runs(month, published_only=published_only)
        return runs[0] if runs else None

    def months(self, *, published_only: bool) -> list[str]:
        return sorted({run.month for run in self.runs(published_only=published_only)},
                      reverse=True)

    def scores(self, run: Run, scope: Scope, kind: str | None = None) -> list[dict[str, Any]]:
        """The run's rows the scope may see: ranked first, 无办件 last; JSON decoded."""
        where, params = scope.sql()
        sql = (f"select {', '.join(_SCORE_COLUMNS[2:])} from unit_scores"
               f" where month = ? and version = ? and {where}")
        args: list[Any] = [run.month, run.version, *params]
        if kind:
            sql += " and unit_kind = ?"
            args.append(kind)
        rows = self.store.query(sql, tuple(args))
        for row in rows:
            for name in ("lines", "inputs", "members"):
                row[name] = json.loads(row[name])
        return sorted(rows, key=lambda r: (r["unit_kind"] != "district", r["rank"] is None,
                                           r["rank"] or 0, r["unit_name"]))

    def unit(self, run: Run, scope: Scope, kind: str, district: str,
             dept: str) -> dict[str, Any] | None:
        return next((row for row in self.scores(run, scope, kind)
                     if row["district_code"] == district and row["dept_code"] == dept), None)

    def config_text(self, run: Run) -> str:
        rows = self.store.query("select config_text from score_versions where month = ?"
                                " and version = ?", (run.month, run.version))
        return rows[0]["config_text"] if rows else ""

    def formula(self, run: Run) -> ScoringConfig:
        """The formula a version was computed with (its stored file text)."""
        text = self.config_text(run)
        return parse_scoring(text, f"{run.month} 第{run.version}版的公式") if text \
            else ScoringConfig()

    def unpublished_months(self) -> list[str]:
        """Months that have drafts but no published version (the hub keeps these updated)."""
        published = set(self.months(published_only=True))
        return [month for month in self.months(published_only=False) if month not in published]


def _score_row(month: str, version: int, unit: UnitScore) -> tuple:
    return (month, version, unit.kind, unit.district_code, unit.dept_code, unit.dept_suffix,
            unit.name, unit.cases, unit.score, unit.base, unit.bonus, unit.rank,
            json.dumps([asdict(line) for line in unit.lines], ensure_ascii=False),
            json.dumps(unit.inputs, ensure_ascii=False),
            json.dumps(unit.members, ensure_ascii=False))

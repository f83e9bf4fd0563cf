"""督办 notices issued at the hub: the city's on any case, a district's on its own cases.

Boxes issue their districts' cards (南海电监〔2026〕17号); the city supervision centre issues its
own 督办通知 on any case it can see, numbered ``佛山电监〔2026〕3号`` without gaps (the counter is
taken in the issuing transaction). A district's 监察室 issues 督办 on its district's cases (a
complaint's 移交督办), numbered by its own counter, ``南海电监督〔2026〕1号``; ``dubans.issuer``
is ``city`` or the district's code. A notice is tracked to closure: the department (or
district) answers (反馈), its issuer closes it (办结). Every step is an append-only
``duban_events`` row. Its 督办通知书 is fixed at issue (``dubans.content``) and prints on one
A4 sheet.

Example::

    desk = DubanDesk(store, calendar, clock, city_name="佛山市")
    notice = desk.issue(data, Scope.city(), "44060500000017", user="admin",
                        requirement="请于期限内办结并说明超期原因")
    notice["number"]    # '佛山电监〔2026〕1号'
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from hub.duban_notice import duban_content, duban_issuer, duban_page, district_issuer
from hub.projections.shares import read_shares
from hub.services import HubData, NotFound, Scope
from hub.services.cases import find_case
from hub.units import dept_suffix
from standard.calendar import CalendarUnknownYear, WorkCalendar
from standard.districts import hall_name, short_name
from standard.records import LOCAL_TZ

# Created by migration 1 (hub/storage/migrations.py); a later change needs a new migration.
SCHEMA = """
create table if not exists duban_counters (year integer primary key, last integer not null);
create table if not exists dubans (
    id integer primary key, number text not null unique, year integer not null,
    seq integer not null, district_code text not null, case_no text not null, dept_code text,
    dept_suffix text, item_code text, issued_at text not null, issued_on text not null,
    issued_by text not null, due_on text, requirement text not null, state text not null,
    closed_at text, updated_at text not null, unique (year, seq));
create index if not exists dubans_case on dubans(case_no, district_code);
create index if not exists dubans_state on dubans(state, district_code);
create table if not exists duban_events (
    id integer primary key, duban_id integer not null, at text not null, actor text not null,
    action text not null, note text);
create index if not exists duban_events_duban on duban_events(duban_id);
create trigger if not exists duban_events_no_update before update on duban_events
    begin select raise(abort, 'duban_events is append-only'); end;
create trigger if not exists duban_events_no_delete before delete on duban_events
    begin select raise(abort, 'duban_events is append-only'); end;
"""

STATE_NAMES = {"issued": "已发出", "answered": "已反馈", "closed": "已办结"}
CITY = "city"  # dubans.issuer of the city's own 督办; a district's is its code
DISTRICT_WORD = "电监督"  # a district's 督办 number: 南海电监督〔2026〕1号 (its cards: 南海电监…)
ACTION_NAMES = {"issue": "发出督办", "answer": "反馈", "close": "办结"}
MAX_TEXT = 2000
# The requirement is printed on the one-page 督办通知书 (hub/duban_notice.py): kept short.
MAX_REQUIREMENT = 400


class DubanError(ValueError):
    """A 督办 step that is not allowed or lacks its text."""


def duban_number(city_name: str, word: str, year: int, seq: int) -> str:
    """>>> duban_number("佛山市", "电监", 2026, 3)
    '佛山电监〔2026〕3号'
    """
    return f"{city_name.removesuffix('市')}{word}〔{year}〕{seq}号"


def _note(text: str | None, what: str, limit: int = MAX_TEXT) -> str:
    value = (text or "").strip()
    if not value:
        raise DubanError(f"请填写{what}")
    if len(value) > limit:
        raise DubanError(f"{what}不能超过{limit}字（现有{len(value)}字）")
    return value


def issuer_of(scope: Scope) -> str:
    """Who issues a 督办 for ``scope``: the city, or a district user's district; DubanError
    for a department user."""
    if scope.is_city:
        return CITY
    if scope.role == "district" and len(scope.districts) == 1:
        return scope.districts[0]
    raise DubanError("只有市监察局和区监察室可以发出督办")


def target_departments(data: HubData, case: dict[str, Any]) -> list[str]:
    """The departments a city 督办 on ``case`` may go to: its lead, then its joint shares."""
    shares = read_shares(data.query, case["district_code"], case["case_no"])
    return [case["dept_code"], *(share["dept_code"] for share in shares)]


class DubanDesk:
    def __init__(self, store, calendar: WorkCalendar, clock: Callable[[], dt.datetime], *,
                 city_name: str = "佛山市", word: str = "电监", due_working_days: int = 5):
        self.store = store
        self.calendar = calendar
        self.clock = clock
        self.city_name = city_name
        self.word = word
        self.due_working_days = due_working_days

    def issue(self, data: HubData, scope: Scope, case_no: str, *, user: str,
              requirement: str, due_working_days: int | None = None,
              dept_code: str | None = None, source: str | None = None,
              complaint_id: int | None = None,
              also: Callable[[Any, dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Issue a 督办 on a case the user can see; returns the notice.

        A city user issues the city's 督办, a district user its district's (on that district's
        cases only: ``find_case`` in its scope). It goes to the case's department, or to
        ``dept_code``: the lead or any department that takes part in the joint case (联办件).
        Its 督办通知书 is fixed now (hub/duban_notice.py). ``source`` and ``complaint_id`` name
        the complaint it came from (移交督办); ``also(conn, notice)`` runs in the issuing
        transaction, so the complaint's own step commits with it.
        """
        issuer = issuer_of(scope)
        case = find_case(data, scope, case_no)
        text = _note(requirement, "督办要求", MAX_REQUIREMENT)
        target = dept_code or case["dept_code"]
        if target not in target_departments(data, case):
            raise DubanError(f"部门 {target} 不是办件 {case['case_no']} 的牵头部门或协办部门，"
                             "请从办件页列出的部门中选择")
        now = self.clock()
        today = now.astimezone(LOCAL_TZ).date()
        try:
            due = self.calendar.add_workdays(today, due_working_days or self.due_working_days)
        except CalendarUnknownYear as exc:
            raise DubanError(f"工作日历缺少{exc.year}年数据，无法计算督办期限") from None
        at = now.astimezone(dt.timezone.utc).isoformat(timespec="seconds")
        with self.store.transaction() as conn:
            seq = self._next_seq(conn, issuer, today.year)
            number = (duban_number(self.city_name, self.word, today.year, seq) if issuer == CITY
                      else duban_number(short_name(issuer), DISTRICT_WORD, today.year, seq))
            content = duban_content(
                data, case, target, number=number, issued_on=today, due_on=due,
                requirement=text, source=source, city=issuer == CITY,
                issuer=duban_issuer(self.city_name) if issuer == CITY
                else district_issuer(issuer))
            duban_id = conn.execute(
                "insert into dubans (number, year, seq, district_code, case_no, dept_code,"
                " dept_suffix, item_code, issued_at, issued_on, issued_by, due_on, requirement,"
                " state, updated_at, content, complaint_id, issuer)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'issued', ?, ?, ?, ?)"
                " returning id",
                (number, today.year, seq, case["district_code"], case["case_no"],
                 target, dept_suffix(target, case["district_code"]), case["item_code"], at,
                 today.isoformat(), user, due.isoformat(), text, at,
                 json.dumps(content, ensure_ascii=False), complaint_id, issuer)).fetchone()[0]
            note = f"{text}（来源：{source}）" if source else text
            conn.execute("insert into duban_events (duban_id, at, actor, action, note)"
                         " values (?, ?, ?, 'issue', ?)", (duban_id, at, user, note))
            if also is not None:
                also(conn, {"id": duban_id, "number": number})
        return self.get(duban_id, scope)

    @staticmethod
    def _next_seq(conn, issuer: str, year: int) -> int:
        """The issuer's next number this year, taken in the issuing transaction (no gaps)."""
        if issuer == CITY:
            return conn.execute("insert into duban_counters (year, last) values (?, 1)"
                                " on conflict(year) do update set last = duban_counters.last + 1"
                                " returning last", (year,)).fetchone()[0]
        return conn.execute("insert into duban_unit_counters (issuer, year, last) values (?, ?, 1)"
                            " on conflict(issuer, year) do update"
                            " set last = duban_unit_counters.last + 1 returning last",
                            (issuer, year)).fetchone()[0]

    def notice_page(self, data: HubData, duban_id: int, scope: Scope) -> str:
        """The 督办通知书 as a printable A4 page (NotFound outside the scope)."""
        row = self.get(duban_id, scope)
        try:
            case = find_case(data, Scope.district(row["district_code"]), row["case_no"])
        except NotFound:
            case = None
        return duban_page(row, data, case)

    def get(self, duban_id: int, scope: Scope) -> dict[str, Any]:
        where, params = scope.sql()
        rows = self.store.query(f"select * from dubans where id = ? and {where}",
                                (duban_id, *params))
        if not rows:
            raise NotFound(f"督办 {duban_id} 不存在或不在您的监察范围内")
        row = self._shape(rows[0])
        row["events"] = self.store.query("select * from duban_events where duban_id = ?"
                                         " order by id", (duban_id,))
        row["actions"] = self.actions_for(row, scope)
        return row

    def _shape(self, row: dict[str, Any]) -> dict[str, Any]:
        today = self.clock().astimezone(LOCAL_TZ).date().isoformat()
        row["state_name"] = STATE_NAMES[row["state"]]
        row["issuer"] = row.get("issuer") or CITY
        row["level_name"] = "市级督办" if row["issuer"] == CITY else f"{hall_name(row['issuer'])}督办"
        row["overdue"] = row["state"] != "closed" and bool(row["due_on"]) and today > row["due_on"]
        return row

    def list(self, scope: Scope, *, state: str | None = None, case_no: str | None = None,
             district: str | None = None, limit: int = 200, offset: int = 0
             ) -> list[dict[str, Any]]:
        """The newest 督办 in scope; ``state`` "active" (not closed) or one state."""
        where, params = self._where(scope, state, case_no, district)
        return [self._shape(row) for row in self.store.query(
            f"select * from dubans where {where} order by id desc limit ? offset ?",
            (*params, limit, offset))]

    def page(self, scope: Scope, *, state: str | None = None, district: str | None = None,
             page: int = 1, per_page: int = 50) -> tuple[list[dict[str, Any]], int, int, int]:
        """(rows, total, page, pages) of the list, newest first."""
        where, params = self._where(scope, state, None, district)
        total = self.store.query(f"select count(*) as n from dubans where {where}",
                                 params)[0]["n"]
        pages = max(1, -(-total // per_page))
        page = min(max(page, 1), pages)
        rows = self.list(scope, state=state, district=district, limit=per_page,
                         offset=(page - 1) * per_page)
        return rows, total, page, pages

    @staticmethod
    def _where(scope: Scope, state: str | None, case_no: str | None,
               district: str | None) -> tuple[str, list[Any]]:
        where, params = scope.sql()
        if state == "active":
            where += " and state != 'closed'"
        elif state in STATE_NAMES:
            where += " and state = ?"
            params.append(state)
        if case_no:
            where += " and case_no = ?"
            params.append(case_no)
        if district:
            where += " and district_code = ?"
            params.append(district)
        return where, params

    @staticmethod
    def actions_for(row: dict[str, Any], scope: Scope) -> tuple[str, ...]:
        """Anyone in scope answers (反馈); the issuer closes (办结), the city any 督办."""
        if row["state"] == "closed":
            return ()
        issuer = row.get("issuer") or CITY
        closes = scope.is_city or (scope.role == "district" and scope.districts == (issuer,))
        return ("answer", "close") if closes else ("answer",)

    def act(self, duban_id: int, scope: Scope, action: str, *, user: str,
            note: str | None) -> dict[str, Any]:
        row = self.get(duban_id, scope)
        if action not in self.actions_for(row, scope):
            raise DubanError(f"当前状态“{row['state_name']}”不能{ACTION_NAMES.get(action, action)}")
        text = _note(note, "反馈内容" if action == "answer" else "办结说明")
        at = self.clock().astimezone(dt.timezone.utc).isoformat(timespec="seconds")
        state = "answered" if action == "answer" else "closed"
        with self.store.transaction() as conn:
            conn.execute("update dubans set state = ?, updated_at = ?,"
                         " closed_at = case when ? = 'closed' then ? else closed_at end"
                         " where id = ?", (state, at, state, at, duban_id))
            conn.execute("insert into duban_events (duban_id, at, actor, action, note)"
                         " values (?, ?, ?, ?, ?)", (duban_id, at, user, action, text))
        return self.get(duban_id, scope)

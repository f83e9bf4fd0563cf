"""Recording ratings (好差评) from every channel, one rating per service (一次一评).

A window is *armed* when the platform reports a case being served there (an accepted event with
``window_no`` and an actor); the next key press at that window is linked to the case, its staff
member and department, and disarms the window. A press at an unarmed window is still recorded,
against the window and the staff last seen there, with ``armed = 0``. A second rating of the
same case is kept, marked as a repeat of the first and not counted. A counted 差评 (level 1–2)
opens a follow-up item in the same transaction. Every insert and change is emitted for the hub.

Example::

    ratings = Ratings(store, WorkCalendar(), EvaluationSection(), window_depts={3: "440605MZJ"})
    outcome = ratings.record_press(KeyPress.new(window_no=3, level=5, pressed_at=now))
    outcome.case_no, outcome.counted
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edge.config import EvaluationSection
from edge.evaluations.followups import open_followup
from edge.evaluations.rows import day_start, emit_rating, fetch_one, local_date, present_rating
from edge.ingest import Conflict, ConflictHook
from edge.quarantine import Rejection, quarantine
from edge.store import Store
from edge.storetx import Tx, iso
from standard.calendar import CalendarUnknownYear, WorkCalendar
from standard.deadlines import CaseFacts
from standard.evaluations import BAD_LEVELS, Channel, Evaluation
from standard.records import CaseEvent, EventType

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyPress:
    """One accepted key press (after debounce and lockout), or a simulated one."""

    press_id: str  # unique: makes a retried write harmless
    window_no: int
    level: int
    pressed_at: dt.datetime

    @classmethod
    def new(cls, window_no: int, level: int, pressed_at: dt.datetime) -> KeyPress:
        return cls(uuid.uuid4().hex, window_no, level, pressed_at)


@dataclass(frozen=True)
class RatingOutcome:
    """What recording a rating did."""

    rating_id: int
    level: int
    channel: str
    window_no: int | None
    case_no: str | None
    staff_id: str | None
    dept_code: str | None
    armed: bool
    counted: bool
    repeat_of: int | None
    followup_opened: bool
    disarmed: bool = False
    duplicate: bool = False  # already recorded (a retry or a re-sent evaluation)
    # Re-sent under a known evaluation_id with these fields different: quarantined, not taken
    conflict: tuple[str, ...] = ()


def kept_fields(ev: Evaluation) -> dict[str, Any]:
    """An evaluation's fields as the ratings table keeps them: what a re-send is compared on."""
    return {"case_no": ev.case_no, "level": ev.level, "rated_at": iso(ev.rated_at),
            "tags": json.dumps(list(ev.tags), ensure_ascii=False), "text": ev.text,
            "citizen_name": ev.citizen_name, "citizen_phone": ev.citizen_phone}


def rating_uid(ev: Evaluation) -> str:
    """The id a rating is kept under: the same evaluation_id may come from two channels."""
    return f"{ev.channel}:{ev.evaluation_id}"


def changed_fields(kept: dict[str, Any], ev: Evaluation) -> tuple[str, ...]:
    """The fields of a re-sent evaluation that differ from the one kept under its id."""
    return tuple(name for name, value in kept_fields(ev).items() if kept[name] != value)


def _outcome(row: dict[str, Any], *, followup: bool, duplicate: bool = False) -> RatingOutcome:
    return RatingOutcome(
        rating_id=row["id"], level=row["level"], channel=row["channel"],
        window_no=row["window_no"], case_no=row["case_no"], staff_id=row["staff_id"],
        dept_code=row["dept_code"], armed=bool(row["armed"]), counted=bool(row["counted"]),
        repeat_of=row["repeat_of"], followup_opened=followup, duplicate=duplicate)


class Ratings:
    """The one recording service for ratings: window keys, ``edge press``, the API, defaults."""

    def __init__(self, store: Store, calendar: WorkCalendar, policy: EvaluationSection,
                 window_depts: Mapping[int, str | None] | None = None):
        self.store = store
        self.calendar = calendar
        self.policy = policy
        self.window_depts = dict(window_depts or {})
        # Called inside the arming transaction when a window's armed state may have changed;
        # must be quick (the evaluator service just queues an LED refresh).
        self.window_listeners: list[Callable[[], None]] = []

    # -- window keys --------------------------------------------------------------------
    def record_press(self, press: KeyPress, *, timeout: float | None = 60) -> RatingOutcome:
        """Commit one key press; raises TimeoutError if the store did not answer in time
        (the job may still run later: retrying with the same press is harmless)."""
        return self.store.write(lambda tx: self.record_press_in(tx, press), timeout=timeout)

    def record_presses(self, presses: list[KeyPress], *, timeout: float | None = 60
                       ) -> list[RatingOutcome]:
        """Commit several presses in one transaction, in order (a burst: one sync to disk)."""
        return self.store.write(lambda tx: [self.record_press_in(tx, p) for p in presses],
                                timeout=timeout)

    def record_press_in(self, tx: Tx, press: KeyPress) -> RatingOutcome:
        uid = f"key:{press.press_id}"
        known = self._known(tx, uid)
        if known:  # a retry after a timed-out wait: the first write disarmed the window
            return dataclasses.replace(known, disarmed=known.armed)
        conn = tx.conn
        served = fetch_one(conn, "select * from window_service where window_no = ?",
                           (press.window_no,))
        armed = bool(served and served["armed"] and served["case_no"])
        outcome = self._insert(
            tx, uid=uid, channel=Channel.WINDOW.value, level=press.level,
            case_no=served["case_no"] if armed else None, window_no=press.window_no,
            staff_id=served["staff_id"] if served else None,
            staff_name=served["staff_name"] if served else None,
            dept_code=(served and served["dept_code"]) or self.window_depts.get(press.window_no),
            armed=armed, rated_at=press.pressed_at)
        if armed:
            conn.execute("update window_service set armed = 0 where window_no = ?",
                         (press.window_no,))
        return dataclasses.replace(outcome, disarmed=armed)

    def armed_windows_in(self, tx: Tx) -> set[int]:
        """Windows armed now. Run through ``store.write`` it is also a barrier: every
        transaction queued before it has committed or rolled back."""
        rows = tx.conn.execute("select window_no from window_service where armed = 1")
        return {window_no for (window_no,) in rows}

    # -- arming (an IngestHook) ---------------------------------------------------------
    def arm_from_events(self, tx: Tx, events: list[CaseEvent]) -> None:
        """Arm windows from newly accepted case events, in the ingest transaction."""
        max_age = dt.timedelta(minutes=self.policy.arm_max_age_minutes)
        latest: dict[int, CaseEvent] = {}
        for event in events:
            # Backfilled history must not arm a window: only recent service counts.
            if event.window_no is None or tx.now - event.occurred_at > max_age:
                continue
            current = latest.get(event.window_no)
            if current is None or event.occurred_at >= current.occurred_at:
                latest[event.window_no] = event
        changed = False
        for window_no, event in latest.items():
            changed |= self._arm(tx, window_no, event)
        if changed:
            for listener in self.window_listeners:
                listener()

    def _arm(self, tx: Tx, window_no: int, event: CaseEvent) -> bool:
        conn = tx.conn
        seen_at = iso(event.occurred_at)
        row = fetch_one(conn, "select seen_at from window_service where window_no = ?",
                        (window_no,))
        if row and row["seen_at"] > seen_at:
            return False  # an older event arrived late; the window has moved on
        rated = conn.execute("select 1 from ratings where case_no = ? and repeat_of is null"
                             " and superseded_by is null limit 1", (event.case_no,)).fetchone()
        staff = (event.actor.id, event.actor.name, event.dept_code, seen_at)
        if rated:  # 一次一评: a rated case does not ask again; the staff on duty is still noted
            conn.execute(
                "insert into window_service (window_no, staff_id, staff_name, dept_code, seen_at)"
                " values (?, ?, ?, ?, ?) on conflict(window_no) do update set"
                " staff_id = excluded.staff_id, staff_name = excluded.staff_name,"
                " dept_code = excluded.dept_code, seen_at = excluded.seen_at",
                (window_no, *staff))
            return False
        conn.execute(
            "insert into window_service (window_no, case_no, staff_id, staff_name, dept_code,"
            " armed, armed_at, seen_at) values (?, ?, ?, ?, ?, 1, ?, ?)"
            " on conflict(window_no) do update set case_no = excluded.case_no,"
            " staff_id = excluded.staff_id, staff_name = excluded.staff_name,"
            " dept_code = excluded.dept_code, armed = 1, armed_at = excluded.armed_at,"
            " seen_at = excluded.seen_at",
            (window_no, event.case_no, event.actor.id, event.actor.name, event.dept_code,
             iso(tx.now), seen_at))
        return True

    # -- other channels -----------------------------------------------------------------
    def record_evaluations(self, evaluations: list[tuple[int, Evaluation]],
                           rejected: Sequence[Rejection] = (), *, source: str = "evaluations",
                           limit_outbox: bool = False, on_conflicts: Sequence[ConflictHook] = ()
                           ) -> list[tuple[int, RatingOutcome]]:
        """Commit channel evaluations and quarantine the rejected ones, in one transaction.

        An evaluation re-sent under a known ``evaluation_id`` is a duplicate when identical, or
        a conflict when its content differs (a rating changed after the fact): the kept one
        stands, the new one is quarantined with the fields that differ, and ``on_conflicts``
        run in the same transaction (the box's data-quality alert), as for case events.
        ``limit_outbox``: refuse them all (StoreFull) rather than pass the outbox quota.
        """

        def apply(tx: Tx) -> list[tuple[int, RatingOutcome]]:
            if limit_outbox:
                tx.limit_outbox()
            quarantine(tx, list(rejected), source)
            recorded = [(index, self._record_evaluation(tx, ev)) for index, ev in evaluations]
            conflicts = [Conflict(index, ev.evaluation_id, list(outcome.conflict),
                                  ev.model_dump_json(), id_field="evaluation_id")
                         for (index, outcome), (_, ev) in zip(recorded, evaluations)
                         if outcome.conflict]
            if conflicts:
                quarantine(tx, [c.rejection() for c in conflicts], source)
                for hook in on_conflicts:
                    hook(tx, conflicts)
            return recorded

        return self.store.write(apply)

    def _record_evaluation(self, tx: Tx, ev: Evaluation) -> RatingOutcome:
        uid = rating_uid(ev)
        kept = fetch_one(tx.conn, "select * from ratings where rating_uid = ?", (uid,))
        if kept is not None:
            known = self._known(tx, uid)
            changed = changed_fields(kept, ev)
            return dataclasses.replace(known, duplicate=not changed, conflict=changed)
        case = fetch_one(tx.conn, "select dept_code, facts from cases where case_no = ?",
                         (ev.case_no,))
        facts = CaseFacts.from_json(case["facts"]) if case else None
        last = fetch_one(tx.conn, "select body from case_events where case_no = ?"
                                  " order by rowid desc limit 1", (ev.case_no,))
        staff_name = json.loads(last["body"])["actor"]["name"] if last else None
        return self._insert(
            tx, uid=uid, channel=ev.channel, level=ev.level, case_no=ev.case_no,
            window_no=facts.window_no if facts else None, staff_id=facts.staff if facts else None,
            staff_name=staff_name, dept_code=case["dept_code"] if case else None, armed=False,
            rated_at=ev.rated_at, tags=ev.tags, text=ev.text, citizen_name=ev.citizen_name,
            citizen_phone=ev.citizen_phone)

    # -- default 满意 -------------------------------------------------------------------
    def apply_default_ratings(self, at: dt.datetime) -> int:
        """Unrated N working days after 办结 counts as 满意 (when the policy turns it on)."""
        if not self.policy.default_satisfied:
            return 0
        today = local_date(at)
        due: list[CaseFacts] = []
        for row in self.store.query(
                "select facts from cases c where is_open = 0 and not exists"
                " (select 1 from ratings r where r.case_no = c.case_no)"):
            facts = CaseFacts.from_json(row["facts"])
            if facts.terminal != EventType.FINISH.value or facts.finished_on is None:
                continue
            try:
                last_day = self.calendar.add_workdays(facts.finished_on,
                                                      self.policy.default_after_working_days)
            except CalendarUnknownYear as exc:
                log.warning("case %s: no calendar for %s, not defaulted", facts.case_no, exc.year)
                continue
            if today > last_day:
                due.append(facts)
        if not due:
            return 0

        def apply(tx: Tx) -> int:
            made = 0
            for facts in due:
                if tx.conn.execute("select 1 from ratings where case_no = ? limit 1",
                                   (facts.case_no,)).fetchone():
                    continue  # rated meanwhile
                self._insert(tx, uid=f"default:{facts.case_no}", channel=Channel.DEFAULT.value,
                             level=4, case_no=facts.case_no, window_no=facts.window_no,
                             staff_id=facts.staff, staff_name=None, dept_code=facts.dept_code,
                             armed=False, rated_at=at, defaulted=True)
                made += 1
            return made

        return self.store.write(apply)

    # -- reading ------------------------------------------------------------------------
    def get(self, rating_id: int, *, reveal_personal: bool = False) -> dict[str, Any] | None:
        """One rating; the citizen's name and phone are masked unless ``reveal_personal``
        (only for roles that handle follow-ups)."""
        rows = self.store.query("select * from ratings where id = ?", (rating_id,))
        return present_rating(rows[0], reveal_personal) if rows else None

    def find(self, *, since: dt.date | None = None, window_no: int | None = None,
             case_no: str | None = None, bad_only: bool = False, reveal_personal: bool = False,
             limit: int = 200) -> list[dict[str, Any]]:
        """Ratings, newest first, filtered; personal data masked unless ``reveal_personal``."""
        clauses, params = [], []
        if since:
            clauses.append("rated_at >= ?")
            params.append(day_start(since))
        for column, value in (("window_no", window_no), ("case_no", case_no)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if bad_only:
            clauses.append("level <= 2")
        where = f" where {' and '.join(clauses)}" if clauses else ""
        rows = self.store.query(f"select * from ratings{where} order by id desc limit ?",
                                (*params, limit))
        return [present_rating(row, reveal_personal) for row in rows]

    def window_service(self) -> list[dict[str, Any]]:
        """Each window's armed case and staff on duty, for the live board."""
        return self.store.query("select * from window_service order by window_no")

    def awaiting_rating(self, now: dt.datetime, within: dt.timedelta) -> set[int]:
        """Windows armed by a case served in the last ``within``: where a citizen who was
        just served may rate (the demo's simulated citizens go only there)."""
        rows = self.store.query("select window_no from window_service where armed = 1"
                                " and case_no is not null and seen_at >= ?",
                                (iso(now - within),))
        return {row["window_no"] for row in rows}

    def last_key_presses(self) -> dict[int, dt.datetime]:
        """Window → when its evaluator's keys were last pressed (device health)."""
        rows = self.store.query("select window_no, max(rated_at) as at from ratings"
                                " where channel = ? and window_no is not null group by window_no",
                                (Channel.WINDOW.value,))
        return {row["window_no"]: dt.datetime.fromisoformat(row["at"]) for row in rows}

    # -- the one insert -----------------------------------------------------------------
    def _known(self, tx: Tx, uid: str) -> RatingOutcome | None:
        row = fetch_one(tx.conn, "select * from ratings where rating_uid = ?", (uid,))
        if row is None:
            return None
        followup = tx.conn.execute("select 1 from review_followups where rating_id = ?",
                                   (row["id"],)).fetchone()
        return _outcome(row, followup=bool(followup), duplicate=True)

    def _insert(self, tx: Tx, *, uid: str, channel: str, level: int, case_no: str | None,
                window_no: int | None, staff_id: str | None, staff_name: str | None,
                dept_code: str | None, armed: bool, rated_at: dt.datetime,
                defaulted: bool = False, tags: Sequence[str] = (), text: str | None = None,
                citizen_name: str | None = None, citizen_phone: str | None = None
                ) -> RatingOutcome:
        conn = tx.conn
        repeat_of = supersedes = None
        if case_no:
            first = fetch_one(conn, "select id, defaulted from ratings where case_no = ? and"
                                    " repeat_of is null and superseded_by is null"
                                    " order by id limit 1", (case_no,))
            if first and first["defaulted"] and not defaulted:
                supersedes = first["id"]  # a real rating replaces the assumed 满意
            elif first:
                repeat_of = first["id"]
        counted = repeat_of is None
        cursor = conn.execute(
            "insert into ratings (rating_uid, channel, level, case_no, window_no, staff_id,"
            " staff_name, dept_code, armed, counted, repeat_of, defaulted, tags, text,"
            " citizen_name, citizen_phone, rated_at, recorded_at)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (uid, channel, level, case_no, window_no, staff_id, staff_name, dept_code,
             int(armed), int(counted), repeat_of, int(defaulted),
             json.dumps(list(tags), ensure_ascii=False), text, citizen_name, citizen_phone,
             iso(rated_at), iso(tx.now)))
        rating_id = cursor.lastrowid
        if supersedes:
            conn.execute("update ratings set counted = 0, superseded_by = ? where id = ?",
                         (rating_id, supersedes))
            emit_rating(tx, supersedes)
        emit_rating(tx, rating_id)
        followup = counted and level in BAD_LEVELS
        if followup:
            open_followup(tx, rating_id, self.policy, self.calendar)
        row = fetch_one(conn, "select * from ratings where id = ?", (rating_id,))
        return _outcome(row, followup=followup)


"""Simulated box records for the hub: what the six units' boxes (市本级 and five districts) would relay over weeks.

Used by the hub's tests, its benchmark and the demo's score example, so that all three apply
the same records a box sends (``case_event``, ``alert``, ``alert_event``, ``notice``,
``rating``), hash-chained exactly as ``edge.store.Tx.emit`` chains them. Deterministic for a
seed.

Example::

    box = SimBox("440605-01", "440605")
    records = box.history(dt.date(2026, 10, 8), days=20, cases_per_day=30)
    feed(store, box, records)          # HubStore.apply_batch in batches of 500
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hallwatch.sim import GIVEN, SURNAMES, catalogue_for
from standard.calendar import WorkCalendar
from standard.envelope import GENESIS, canonical_json, chain_hash
from standard.records import LOCAL_TZ

STAGES = ("申请", "受理", "承办", "审核", "批准", "办结")


def city_catalogue(districts: Iterable[str]) -> dict:
    """The union of the districts' simulated catalogues (the hub's city catalogue)."""
    return {"version": 1, "items": [item for code in districts
                                    for item in catalogue_for(code)["items"]]}


@dataclass
class SimBox:
    box_id: str
    district_code: str
    seed: int = 0
    seq: int = 0
    head: bytes = GENESIS
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    rng: random.Random = field(init=False)
    cases: int = 0
    events: int = 0
    alerts: int = 0
    notices: int = 0
    ratings: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.box_id}:{self.seed}")
        self.items = catalogue_for(self.district_code)["items"]

    @classmethod
    def continuing(cls, store, box_id: str, district_code: str, seed: int = 1) -> SimBox:
        """A box that carries on after the last record the hub holds from it."""
        rows = store.query("select seq, hash from records where box_id = ?"
                           " order by seq desc limit 1", (box_id,))
        box = cls(box_id, district_code, seed=seed)
        if rows:
            box.seq, box.head = rows[0]["seq"], rows[0]["hash"]
        box.cases = 10_000_000 * seed  # case numbers that do not clash with seed 0's
        return box

    # -- records as the box's outbox holds them -------------------------------------------
    def record(self, kind: str, body: dict[str, Any], at: dt.datetime) -> tuple[dict, str, bytes]:
        """One record: (parsed dict, exact text, chain hash), like ``Tx.emit``."""
        self.seq += 1
        created = at.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")
        body_json = canonical_json(body).decode("utf-8")
        text = f'{{"seq":{self.seq},"kind":"{kind}","at":"{created}","body":{body_json}}}'
        self.head = chain_hash(self.head, text.encode("utf-8"))
        return ({"seq": self.seq, "kind": kind, "at": created, "body": body}, text, self.head)

    def _event(self, case: dict, kind: str, at: dt.datetime, **extra) -> tuple:
        self.events += 1
        body = {"version": 1, "event_id": f"{self.box_id}-{self.events:09d}",
                "case_no": case["case_no"], "item_code": case["item"]["item_code"],
                "dept_code": case["item"]["dept_code"], "district_code": self.district_code,
                "event_type": kind, "occurred_at": at.astimezone(LOCAL_TZ).isoformat(),
                "actor": {"id": f"S{self.rng.randrange(40):03d}",
                          "name": self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)}}
        body.update(extra)
        return self.record("case_event", body, at)

    # -- a case's whole life ----------------------------------------------------------------
    def case(self, accepted: dt.date, today: dt.date) -> Iterator[tuple]:
        """A case accepted on ``accepted``: its events up to ``today``, and the box's alerts,
        notices and ratings about it."""
        rng = self.rng
        item = rng.choice(self.items)
        self.cases += 1
        case = {"case_no": f"{self.district_code}{self.seed:02d}{self.cases:09d}", "item": item}
        at = dt.datetime.combine(accepted, dt.time(9, rng.randrange(60)), LOCAL_TZ) \
            + dt.timedelta(minutes=rng.randrange(420))
        window = rng.randrange(1, 9)
        yield self._event(case, "申请", at, case_type=item["case_type"], window_no=window)
        yield self._event(case, "受理", at + dt.timedelta(minutes=5), window_no=window)
        promised = item["promised_days"]
        # Most cases finish early or on time, some late: days used around the promise.
        slack = rng.choices((-4, -2, -1, 0, 1, 3), (25, 25, 15, 27, 5, 3))[0]
        used = max(0, promised + slack) if promised else rng.choices((0, 1), (95, 5))[0]
        finish = self.calendar.add_workdays(accepted, used) if used else accepted
        skip = rng.random() < 0.03
        steps = [s for s in STAGES[2:] if not (skip and s == "审核")]
        if item["case_type"] == "即办件":
            steps = ["办结"]
        span = max((finish - accepted).days, 0)
        for index, stage in enumerate(steps):
            day = accepted + dt.timedelta(days=round(span * (index + 1) / len(steps)))
            when = dt.datetime.combine(day, dt.time(10 + index), LOCAL_TZ)
            if day > today:
                break
            if stage == "办结" and item["fee_yuan"] != "0.00":
                fee = item["fee_yuan"] if rng.random() < 0.95 else "50.00"
                yield self._event(case, "收费", when - dt.timedelta(minutes=30), fee_amount=fee)
            yield self._event(case, stage, when)
        else:
            yield from self._rating(case, finish, window)
            if used > promised and promised:
                yield from self._card(case, accepted, finish)
                yield from self._close_alerts(case, finish)
            return
        if used > promised and self.calendar.add_workdays(accepted, promised) < today:
            yield from self._card(case, accepted, today)

    def _rating(self, case: dict, day: dt.date, window: int) -> Iterator[tuple]:
        if self.rng.random() > 0.6:
            return
        self.ratings += 1
        level = self.rng.choices((5, 4, 3, 2, 1), (55, 30, 8, 5, 2))[0]
        at = dt.datetime.combine(day, dt.time(15, self.rng.randrange(60)), LOCAL_TZ)
        body = {"id": self.ratings, "rating_uid": f"{self.box_id}-R{self.ratings}",
                "channel": "评价器", "level": level, "case_no": case["case_no"],
                "window_no": window, "dept_code": case["item"]["dept_code"], "armed": True,
                "counted": True, "defaulted": False, "tags": [], "has_contact": False,
                "rated_at": at.astimezone(dt.timezone.utc).isoformat(timespec="seconds"),
                "recorded_at": at.astimezone(dt.timezone.utc).isoformat(timespec="seconds")}
        if level <= 2 and self.rng.random() < 0.2:
            body.update(counted=False, invalid_reason="误评")
        yield self.record("rating", body, at)

    def _card(self, case: dict, accepted: dt.date, until: dt.date) -> Iterator[tuple]:
        """The box's yellow warning, red light and yellow card (red after a second date)."""
        promised = case["item"]["promised_days"]
        due = self.calendar.add_workdays(accepted, promised)
        warn_day = self.calendar.add_workdays(accepted, max(promised - 1, 0))
        for level, rule, day in (("yellow", "临近时限", warn_day),
                                 ("red", "超期", self.calendar.add_workdays(due, 1))):
            if day > until:
                return
            yield from self._alert(case, level, rule, day)
        self.notices += 1
        card_day = self.calendar.add_workdays(due, 1)
        at = dt.datetime.combine(card_day, dt.time(8, 31), LOCAL_TZ)
        yield self.record("notice", {
            "number": f"{self.district_code}电监〔{card_day.year}〕{self.notices}号",
            "kind": "限期办理通知书" if self.rng.random() < 0.85 else "整改建议书",
            "district_code": self.district_code, "year": card_day.year, "seq": self.notices,
            "alert_id": self.alerts, "case_no": case["case_no"],
            "dept_code": case["item"]["dept_code"],
            "issued_at": at.astimezone(dt.timezone.utc).isoformat(timespec="seconds"),
            "issued_on": card_day.isoformat(),
            "due_on": self.calendar.add_workdays(card_day, 3).isoformat(),
            "content": {"version": 1, "title": "限期办理通知书"}}, at)

    def _close_alerts(self, case: dict, day: dt.date) -> Iterator[tuple]:
        """The supervisor closes the case's alerts once it is finished (after an explanation)."""
        at = dt.datetime.combine(day, dt.time(17, 0), LOCAL_TZ)
        stamp = at.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")
        for row in case.pop("alerts", []):
            row = {**row, "state": "closed", "updated_at": stamp, "cleared_at": stamp}
            case.setdefault("alerts", []).append(row)
        yield self.record("alert", row, at)

    def _alert(self, case: dict, level: str, rule: str, day: dt.date) -> Iterator[tuple]:
        self.alerts += 1
        at = dt.datetime.combine(day, dt.time(8, 30), LOCAL_TZ)
        stamp = at.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")
        row = {"id": self.alerts, "subject": f"case:{case['case_no']}", "rule": rule,
               "level": level, "state": "open", "detail": f"{rule}：{case['case_no']}",
               "opened_at": stamp, "updated_at": stamp, "case_no": case["case_no"],
               "dept_code": case["item"]["dept_code"], "card": None, "card_due": None,
               "cleared_at": None}
        if level == "red":
            row.update(card="yellow", card_due=self.calendar.add_workdays(day, 3).isoformat())
        yield self.record("alert_event", {"id": self.alerts, "alert_id": self.alerts,
                                          "at": stamp, "actor": "system", "action": "open",
                                          "from_state": None, "to_state": "open",
                                          "note": row["detail"]}, at)
        case.setdefault("alerts", []).append(row)
        yield self.record("alert", row, at)

    def history(self, start: dt.date, days: int, cases_per_day: int,
                today: dt.date | None = None) -> Iterator[tuple]:
        """Records of ``cases_per_day`` cases accepted on each working day from ``start``."""
        today = today or start + dt.timedelta(days=days)
        for offset in range(days):
            day = start + dt.timedelta(days=offset)
            if day > today or not self.calendar.is_workday(day):
                continue
            for _ in range(cases_per_day):
                yield from self.case(day, today)


def feed(store, box: SimBox, records: Iterable[tuple], *, batch: int = 500) -> int:
    """Apply records to a HubStore the way the receiver does; returns how many were new."""
    new = 0
    chunk: list[tuple] = []
    for item in records:
        chunk.append(item)
        if len(chunk) >= batch:
            new += store.apply_batch(box.box_id, box.district_code, chunk,
                                     from_seq=chunk[0][0]["seq"], backlog=0).new
            chunk = []
    if chunk:
        new += store.apply_batch(box.box_id, box.district_code, chunk,
                                 from_seq=chunk[0][0]["seq"], backlog=0).new
    return new

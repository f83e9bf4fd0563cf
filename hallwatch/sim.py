"""Simulated district platforms: a catalogue per district and realistic case event streams.

Used by the demo, the benchmarks and the tests, so that all three exercise the same records a
real platform sends. Deterministic for a given seed.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from standard.calendar import CalendarUnknownYear, WorkCalendar
from standard.districts import DISTRICTS
from standard.records import LOCAL_TZ

# (dept_code, dept_name, item name, legal days, promised days, fee, case type, stage limits)
ITEM_TEMPLATES = [
    ("SCJ", "市场监督管理局", "企业设立登记", 15, 3, "0.00", "承诺件", {"审核": 1}),
    ("SCJ", "市场监督管理局", "食品经营许可", 20, 10, "0.00", "承诺件", {"审核": 3}),
    ("WJJ", "卫生健康局", "医疗机构执业登记", 45, 20, "0.00", "承诺件", {"审核": 5}),
    ("ZJJ", "住房和城乡建设局", "建筑工程施工许可", 15, 7, "0.00", "承诺件", {"审核": 2}),
    ("ZJJ", "住房和城乡建设局", "商品房预售许可", 20, 10, "0.00", "承诺件", {}),
    ("MZJ", "民政局", "婚姻登记", 0, 0, "9.00", "即办件", {}),
    ("GAJ", "公安局", "居民身份证换领", 60, 20, "20.00", "承诺件", {}),
    ("JTJ", "交通运输局", "道路货物运输经营许可", 20, 10, "0.00", "承诺件", {"审核": 3}),
    ("RSJ", "人力资源和社会保障局", "劳务派遣经营许可", 20, 12, "0.00", "承诺件", {}),
    ("FGJ", "发展和改革局", "企业投资项目核准", 45, 20, "0.00", "联办件", {"审核": 10}),
]
# 联办件 items: the participating departments and their own limits (working days).
JOINT_DEPTS = {"FGJ": [("ZJJ", "住房和城乡建设局", 15), ("JTJ", "交通运输局", 10)]}

SURNAMES = "李王张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁"
GIVEN = "敏伟芳娜秀英丽强磊军洋勇艳杰娟涛明超霞平刚"


def catalogue_for(district_code: str) -> dict:
    """The item catalogue JSON document for one district."""
    items = []
    for n, (dept, dept_name, name, legal, promised, fee, kind, stages) in enumerate(
            ITEM_TEMPLATES, start=1):
        joint = [{"dept_code": f"{district_code}{code}", "dept_name": joint_name, "days": days}
                 for code, joint_name, days in JOINT_DEPTS.get(dept, ())]
        items.append({
            "item_code": f"{district_code}-{dept}-{n:03d}", "name": name,
            "dept_code": f"{district_code}{dept}", "dept_name": dept_name,
            "legal_days": legal, "promised_days": promised, "stage_days": stages,
            "fee_yuan": fee, "case_type": kind,
            "materials": ["申请书", "申请人身份证明"],
            "legal_basis": "《中华人民共和国行政许可法》第四十二条及相关法规",
            **({"joint_depts": joint} if joint else {}),
        })
    return {"version": 1, "items": items}


@dataclass
class Platform:
    """One district's simulated approval platform."""

    district_code: str
    seed: int = 0
    windows: int = 8
    rng: random.Random = field(init=False)
    counter: int = 0
    case_counter: int = 0
    open_cases: dict[str, dict] = field(default_factory=dict)
    _open_order: list[str] = field(default_factory=list)  # open_cases' keys, to pick in O(1)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.district_code}:{self.seed}")
        self.items = catalogue_for(self.district_code)["items"]

    def _staff(self) -> dict:
        n = self.rng.randrange(40)
        return {"id": f"S{n:03d}", "name": self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)}

    def _event(self, case: dict, event_type: str, at: dt.datetime, **extra) -> dict:
        self.counter += 1
        at = max(at, case.get("last", at))  # a case's own events never go back in time
        case["last"] = at
        event = {
            "event_id": f"{self.district_code}-{self.seed}-{self.counter:08d}",
            "case_no": case["case_no"], "item_code": case["item"]["item_code"],
            "dept_code": case["item"]["dept_code"], "district_code": self.district_code,
            "event_type": event_type,
            "occurred_at": at.astimezone(LOCAL_TZ).isoformat(timespec="seconds"),
            "actor": case["staff"],
        }
        event.update(extra)
        return event

    def new_case(self, at: dt.datetime) -> list[dict]:
        """A citizen applies at a window and the case is accepted there."""
        item = self.rng.choice(self.items)
        self.case_counter += 1
        case_no = f"{self.district_code}{self.seed:02d}{self.case_counter:08d}"
        case = {"case_no": case_no, "item": item, "staff": self._staff(), "stage": 2,
                "window": self.rng.randrange(1, self.windows + 1),
                "last": at + dt.timedelta(minutes=3)}
        case["slot"] = len(self._open_order)
        self.open_cases[case_no] = case
        self._open_order.append(case_no)
        first = self._event(case, "申请", at, case_type=item["case_type"],
                            window_no=case["window"])
        events = [first, self._event(case, "受理", at + dt.timedelta(minutes=3),
                                     window_no=case["window"])]
        # A joint case goes to its participating departments, which answer later (反馈).
        case["waiting"] = [joint["dept_code"] for joint in item.get("joint_depts", ())]
        events += [self._event(case, "分送", at + dt.timedelta(minutes=5), to_dept_code=dept)
                   for dept in case["waiting"]]
        return events

    def advance(self, at: dt.datetime) -> list[dict]:
        """Move one open case a step on, sometimes with a pause, a fee or a mistake."""
        if not self.open_cases:
            return self.new_case(at)
        case = self.open_cases[self._open_order[self.rng.randrange(len(self._open_order))]]
        roll = self.rng.random()
        events: list[dict] = []
        if case.get("pause"):
            events.append(self._event(case, "补正结束", at))
            case["pause"] = False
            return events
        if case["waiting"] and roll < 0.4:
            return [self._event(case, "反馈", at, dept_code=case["waiting"].pop(0),
                                reason="同意")]
        if roll < 0.06:
            case["pause"] = True
            return [self._event(case, "补正开始", at, reason="申请材料不齐全，需补充营业场所证明")]
        if roll < 0.09:
            fee = case["item"]["fee_yuan"]
            amount = fee if self.rng.random() < 0.7 else "50.00"  # sometimes a wrong fee
            events.append(self._event(case, "收费", at, fee_amount=amount))
        if roll > 0.985:
            self._close(case["case_no"])
            return [self._event(case, "不予许可", at)]  # a refusal without a reason
        stage = case["stage"] + (2 if roll > 0.97 else 1)  # sometimes a stage is skipped
        names = ["申请", "受理", "承办", "审核", "批准", "办结"]
        stage = min(stage, 6)
        case["stage"] = stage
        events.append(self._event(case, names[stage - 1], at))
        if stage == 6:
            self._close(case["case_no"])
        return events

    def _close(self, case_no: str) -> None:
        """Forget a finished case: swap the last key into its place (O(1), order not kept)."""
        slot = self.open_cases.pop(case_no)["slot"]
        moved = self._open_order.pop()
        if moved != case_no:
            self._open_order[slot] = moved
            self.open_cases[moved]["slot"] = slot

    def backlog(self, start: dt.datetime, days: int, cases_per_day: int) -> Iterator[dict]:
        """History: cases accepted over ``days`` calendar days before now, at various stages."""
        for day in range(days):
            base = start + dt.timedelta(days=day)
            if not is_working_day(base.astimezone(LOCAL_TZ).date()):
                continue
            for n in range(cases_per_day):
                at = base + dt.timedelta(minutes=9 * n)
                yield from self.new_case(at)
                for step in range(self.rng.randrange(0, 4)):
                    yield from self.advance(at + dt.timedelta(hours=20 * (step + 1)))


# -- a hall's working day, for the demo ---------------------------------------------------------
OFFICE_PERIODS = ((dt.time(8, 30), dt.time(12, 0)), (dt.time(14, 0), dt.time(17, 30)))
STAGES_AFTER_ACCEPT = ("承办", "审核", "批准", "办结")
# How a case ends up, and how often (the shares of a typical hall's month): most finish early,
# a few on the last day or two (their yellow days), one or two in a hundred late (red).
OUTCOMES = (("early", 0.85), ("close", 0.12), ("late", 0.03))
SERVICE_TIME = dt.timedelta(minutes=60)  # a case is accepted at least this long before closing


CALENDAR = WorkCalendar()


def is_working_day(day: dt.date) -> bool:
    """The official calendar's working day (holidays off, make-up days on), as the boxes count.

    A year the calendar package does not know falls back to Monday to Friday: the simulator
    must keep running, and the boxes raise 日历缺失 for that year themselves.
    """
    try:
        return CALENDAR.is_workday(day)
    except CalendarUnknownYear:
        return day.weekday() < 5


def in_office(at: dt.datetime) -> bool:
    """True on a working day inside the hall's office periods (local time)."""
    local = at.astimezone(LOCAL_TZ)
    return is_working_day(local.date()) and any(a <= local.time() < b for a, b in OFFICE_PERIODS)


def next_office_moment(at: dt.datetime, rng: random.Random) -> dt.datetime:
    """``at`` when it is office time, else a moment early in the next office period."""
    local = at.astimezone(LOCAL_TZ)
    for _ in range(14):
        if is_working_day(local.date()):
            for opens, closes in OFFICE_PERIODS:
                if local.time() < closes:
                    begin = max(local, dt.datetime.combine(local.date(), opens, LOCAL_TZ))
                    return begin + dt.timedelta(minutes=rng.randrange(0, 40))
        local = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), LOCAL_TZ)
    raise AssertionError("no office time within two weeks")


def add_working_days(day: dt.date, n: int) -> dt.date:
    """The n-th working day after ``day``, by the official calendar as the boxes count."""
    while n > 0:
        day += dt.timedelta(days=1)
        n -= is_working_day(day)
    return day


@dataclass
class Hall(Platform):
    """A district platform as a real hall produces it, for the demo: cases only in office
    hours, each at a window of its department (or the hall's general window), served by that
    window's own staff, and finishing mostly early, a few close to the deadline and one or two
    in a hundred late. Each case's later stages are planned when it is accepted and sent as
    their moment comes (:meth:`due`).
    """

    window_depts: dict[int, str] = field(default_factory=dict)
    _plans: list[tuple[dt.datetime, int, str, dict, dict]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        numbers = range(1, max(self.windows, len(self.window_depts)) + 1)
        self.roster = {n: {"id": f"S{self.district_code[-2:]}{n:02d}",
                           "name": self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)}
                       for n in numbers}

    def _window_for(self, item: dict) -> int:
        own = [n for n, dept in self.window_depts.items() if dept == item["dept_code"]]
        return self.rng.choice(own or sorted(self.roster))

    def accept(self, at: dt.datetime) -> list[dict]:
        """A citizen is served at a window: 申请 and 受理 now, the rest planned."""
        item = self.rng.choice(self.items)
        self.case_counter += 1
        window = self._window_for(item)
        case = {"case_no": f"{self.district_code}{self.seed:02d}{self.case_counter:08d}",
                "item": item, "staff": self.roster[window], "window": window, "last": at}
        events = [self._event(case, "申请", at, case_type=item["case_type"], window_no=window),
                  self._event(case, "受理", at + dt.timedelta(minutes=3), window_no=window)]
        if item.get("fee_yuan", "0.00") != "0.00":
            events.append(self._event(case, "收费", at + dt.timedelta(minutes=4),
                                      fee_amount=item["fee_yuan"]))
        for joint in item.get("joint_depts", ()):
            events.append(self._event(case, "分送", at + dt.timedelta(minutes=5),
                                      to_dept_code=joint["dept_code"]))
            back = add_working_days(at.astimezone(LOCAL_TZ).date(),
                                self.rng.randint(1, max(joint["days"] - 1, 1)))
            self._plan(back, case, "反馈", {"dept_code": joint["dept_code"], "reason": "同意"})
        self._plan_stages(case, at)
        return events

    def _plan_stages(self, case: dict, at: dt.datetime) -> None:
        promised = case["item"]["promised_days"]
        accepted = at.astimezone(LOCAL_TZ).date()
        if promised == 0:  # 即办件: done while the citizen waits
            self._plan(at + dt.timedelta(minutes=self.rng.randrange(10, 50)), case, "办结", {})
            return
        outcome = self.rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
        days = {"early": self.rng.randint(1, max(promised - 2, 1)),
                "close": promised,  # done late on the deadline day itself
                "late": promised + self.rng.randint(1, 4)}[outcome]
        for n, stage in enumerate(STAGES_AFTER_ACCEPT, start=1):
            day = add_working_days(accepted, max(round(days * n / 4), 1 if n == 4 else 0))
            if outcome == "close" and n == 4:
                late_in_day = dt.datetime.combine(day, dt.time(16, 0), LOCAL_TZ)
                self._plan(late_in_day + dt.timedelta(minutes=self.rng.randrange(80)),
                           case, stage, {})
            else:
                self._plan(day, case, stage, {})

    def _plan(self, when: dt.datetime | dt.date, case: dict, kind: str, extra: dict) -> None:
        if isinstance(when, dt.date) and not isinstance(when, dt.datetime):
            opens = dt.datetime.combine(when, OFFICE_PERIODS[0][0], LOCAL_TZ)
            when = opens + dt.timedelta(minutes=self.rng.randrange(0, 400))
        if kind in STAGES_AFTER_ACCEPT:  # a case's stages keep their order
            when = max(when, case.get("planned", when) + dt.timedelta(minutes=7))
        when = when if in_office(when) else next_office_moment(when, self.rng)
        if kind in STAGES_AFTER_ACCEPT:
            case["planned"] = when
        self.counter += 1
        bisect.insort(self._plans, (when, self.counter, kind, case, extra),
                      key=lambda plan: plan[:2])

    def due(self, at: dt.datetime) -> list[dict]:
        """The planned events whose moment has come, oldest first."""
        events = []
        while self._plans and self._plans[0][0] <= at:
            when, _, kind, case, extra = self._plans.pop(0)
            events.append(self._event(case, kind, when, **extra))
        return events

    def history(self, start: dt.datetime, now: dt.datetime, cases_per_day: int) -> list[dict]:
        """The cases of the office days from ``start`` until ``now``, with every event that
        has happened by ``now``; what comes later stays planned for :meth:`due`."""
        events: list[dict] = []
        day = start.astimezone(LOCAL_TZ).date()
        while day <= now.astimezone(LOCAL_TZ).date():
            if is_working_day(day):
                for _ in range(cases_per_day):
                    opens, closes = self.rng.choice(OFFICE_PERIODS)
                    first = dt.datetime.combine(day, opens, LOCAL_TZ)
                    span = (dt.datetime.combine(day, closes, LOCAL_TZ) - first) - SERVICE_TIME
                    at = first + dt.timedelta(minutes=self.rng.randrange(int(span.seconds / 60)))
                    if at <= now:
                        events += self.accept(at)
            day += dt.timedelta(days=1)
        return sorted(events + self.due(now), key=lambda e: e["occurred_at"])


def district_names() -> dict[str, str]:
    return dict(DISTRICTS)

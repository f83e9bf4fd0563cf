"""One simulated working day of a busy hall's records, as its box's outbox holds them.

For the province benchmark (bench/bench_hub_province.py): about 30,000 records a box, made in
a fraction of a second, deterministic for a box id and seed, hash-chained exactly as
``edge.store.Tx.emit`` chains them (``sha256(previous hash + record text)``, from GENESIS).

A day is made of whole case lives, interleaved in time order as a hall's windows work them:
申请 and 受理 when the applicant comes, then 承办, 审核 (skipped by a few), 批准, 收费 (items with a
fee) and 办结 later in the day; 即办件 go straight to 办结. About 60 % of finished cases are
rated (评价器), one case in ten nears its time limit (a yellow warning: ``alert_event`` and
``alert``), one in thirty is late (a red light with its yellow card and a 限期办理通知书), and
some of those are closed by the supervisor before evening. Bodies carry the fields the hub's
projections read (hallwatch/hubsim.py has the same records over weeks, made one at a time).

Example::

    texts, hashes = day_texts("440605-001", "440605", dt.date(2026, 11, 20), 30_000)
    # texts[i]: the record's exact UTF-8 text; hashes[i]: its chain hash
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import random

import orjson

from hallwatch.sim import GIVEN, SURNAMES, catalogue_for
from standard.envelope import GENESIS

OPEN_SECONDS = 8 * 3600 + 30 * 60   # 08:30 local: the hall opens
CLOSE_SECONDS = 17 * 3600 + 30 * 60  # 17:30: the last case is accepted before this
LOCAL_OFFSET = 8 * 3600              # China Standard Time, no daylight saving


@functools.lru_cache(maxsize=200_000)
def _stamps(day: dt.date, seconds: int) -> tuple[str, str]:
    """(UTC with milliseconds, as records' ``at``; local, as events' ``occurred_at``)."""
    seconds = min(seconds, 24 * 3600 - 1)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    utc = seconds - LOCAL_OFFSET
    uh, rest = divmod(utc, 3600)
    um, us = divmod(rest, 60)
    return (f"{day.isoformat()}T{uh:02d}:{um:02d}:{us:02d}.000+00:00",
            f"{day.isoformat()}T{h:02d}:{m:02d}:{s:02d}+08:00")


class HallDay:
    """Records of one box's day; ``records`` is a target (whole cases: a few more or less)."""

    def __init__(self, box_id: str, district_code: str, day: dt.date, seed: int = 0):
        self.box_id = box_id
        self.district_code = district_code
        self.day = day
        self.rng = random.Random(f"{box_id}:{day}:{seed}")
        self.items = catalogue_for(district_code)["items"]
        self.staff = [{"id": f"S{n:03d}", "name": SURNAMES[n % len(SURNAMES)]
                       + GIVEN[(n * 7) % len(GIVEN)]} for n in range(60)]
        # The box's own number in its case numbers: two boxes of a district never share one.
        self.prefix = f"{district_code}{box_id.rsplit('-', 1)[-1]}{seed:02d}{day:%y%m%d}"
        self.pending: list[tuple[int, int, str, dict]] = []  # (seconds, order, kind, body)
        self.alerts = self.notices = self.ratings = 0

    def _add(self, seconds: int, kind: str, body: dict) -> None:
        self.pending.append((seconds, len(self.pending), kind, body))

    def _event(self, case: dict, event_type: str, seconds: int, **extra) -> None:
        body = {"version": 1, "event_id": "", "case_no": case["case_no"],
                "item_code": case["item_code"], "dept_code": case["dept_code"],
                "district_code": self.district_code, "event_type": event_type,
                "occurred_at": _stamps(self.day, seconds)[1],
                "actor": self.staff[self.rng.randrange(len(self.staff))]}
        body.update(extra)
        self._add(seconds, "case_event", body)

    def case(self, number: int) -> None:
        rng = self.rng
        item = self.items[rng.randrange(len(self.items))]
        case = {"case_no": f"{self.prefix}{number:06d}", "item_code": item["item_code"],
                "dept_code": item["dept_code"]}
        accepted = at = rng.randrange(OPEN_SECONDS, CLOSE_SECONDS)
        window = rng.randrange(1, 13)
        self._event(case, "申请", at, case_type=item["case_type"], window_no=window)
        at += rng.randrange(60, 600)
        self._event(case, "受理", at, window_no=window)
        if item["case_type"] == "即办件":
            steps = ["办结"]
        else:
            steps = ["承办", "批准", "办结"] if rng.random() < 0.03 else \
                ["承办", "审核", "批准", "办结"]
        for stage in steps:
            at += rng.randrange(120, 1800)
            if stage == "办结" and item["fee_yuan"] != "0.00":
                self._event(case, "收费", at, fee_amount=item["fee_yuan"])
                at += 60
            self._event(case, stage, at)
        if rng.random() < 0.6:
            self._rating(case, at + rng.randrange(30, 300), window)
        late = rng.random()
        if late < 0.1:
            self._alerts(case, accepted, at, red=late < 0.033)

    def _rating(self, case: dict, seconds: int, window: int) -> None:
        self.ratings += 1
        level = self.rng.choices((5, 4, 3, 2, 1), (55, 30, 8, 5, 2))[0]
        stamp = _stamps(self.day, seconds)[0][:19] + "+00:00"
        body = {"id": self.ratings, "rating_uid": f"{self.box_id}-R{self.day:%y%m%d}"
                f"{self.ratings}", "channel": "评价器", "level": level,
                "case_no": case["case_no"], "window_no": window, "dept_code": case["dept_code"],
                "armed": True, "counted": True, "defaulted": False, "tags": [],
                "has_contact": False, "rated_at": stamp, "recorded_at": stamp}
        if level <= 2 and self.rng.random() < 0.2:
            body.update(counted=False, invalid_reason="误评")
        self._add(seconds, "rating", body)

    def _alerts(self, case: dict, accepted: int, finished: int, red: bool) -> None:
        """A warning while the case is worked on; for a late case a red light, its yellow
        card and notice; closed by the supervisor at 17:00 for half of them."""
        levels = (("yellow", "临近时限"), ("red", "超期")) if red else (("yellow", "临近时限"),)
        opened_at = self.rng.randrange(accepted + 1, finished)
        stamp = _stamps(self.day, opened_at)[0]
        row = {}
        for level, rule in levels:
            self.alerts += 1
            row = {"id": self.alerts, "subject": f"case:{case['case_no']}", "rule": rule,
                   "level": level, "state": "open", "detail": f"{rule}：{case['case_no']}",
                   "opened_at": stamp, "updated_at": stamp, "case_no": case["case_no"],
                   "dept_code": case["dept_code"], "card": None, "card_due": None,
                   "cleared_at": None}
            if red and level == "red":
                row.update(card="yellow", card_due=(self.day + dt.timedelta(days=3)).isoformat())
            self._add(opened_at, "alert_event", {
                "id": self.alerts, "alert_id": self.alerts, "at": stamp, "actor": "system",
                "action": "open", "from_state": None, "to_state": "open",
                "note": row["detail"]})
            self._add(opened_at, "alert", row)
        if red:
            self.notices += 1
            self._add(opened_at + 60, "notice", {
                "number": f"{self.district_code}电监〔{self.day.year}〕{self.notices}号",
                "kind": "限期办理通知书", "district_code": self.district_code,
                "year": self.day.year, "seq": self.notices, "alert_id": self.alerts,
                "case_no": case["case_no"], "dept_code": case["dept_code"],
                "issued_at": _stamps(self.day, opened_at + 60)[0][:19] + "+00:00",
                "issued_on": self.day.isoformat(),
                "due_on": (self.day + dt.timedelta(days=3)).isoformat(),
                "content": {"version": 1, "title": "限期办理通知书"}})
        if self.rng.random() < 0.5:
            closed = max(finished, 17 * 3600)
            stamp = _stamps(self.day, closed)[0]
            self._add(closed, "alert", {**row, "state": "closed", "updated_at": stamp,
                                        "cleared_at": stamp})

    def texts(self, records: int, first_seq: int = 1, head: bytes = GENESIS
              ) -> tuple[list[bytes], list[bytes]]:
        """Whole cases until about ``records`` records, in time order, numbered from
        ``first_seq`` and chained from ``head``: (record texts, chain hashes)."""
        number = 0
        while len(self.pending) < records:
            number += 1
            self.case(number)
        self.pending.sort()
        texts, hashes = [], []
        dumps, sha256 = orjson.dumps, hashlib.sha256
        events = 0
        seq = first_seq
        for seconds, _, kind, body in self.pending:
            if kind == "case_event":
                events += 1
                body["event_id"] = f"{self.box_id}-{self.day:%y%m%d}-{events:07d}"
            text = b'{"seq":%d,"kind":"%s","at":"%s","body":%s}' % (
                seq, kind.encode(), _stamps(self.day, seconds)[0].encode(),
                dumps(body, option=orjson.OPT_SORT_KEYS))
            head = sha256(head + text).digest()
            texts.append(text)
            hashes.append(head)
            seq += 1
        self.pending = []
        return texts, hashes


def day_texts(box_id: str, district_code: str, day: dt.date, records: int, seed: int = 0
              ) -> tuple[list[bytes], list[bytes]]:
    """A box's day of about ``records`` records: (texts, chain hashes), seq from 1."""
    return HallDay(box_id, district_code, day, seed).texts(records)

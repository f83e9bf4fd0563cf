"""The city overview: each district's boxes, open cases by light, cards, today's ratings,
absences and cameras not OK.

Every number comes from an indexed aggregate (``hub_cases`` by light, ``hub_rating_daily``,
``hub_alerts``, ``hub_absences``, ``hub_cameras``), never from a scan of ``records``, so the
page stays fast at millions of records.

Example::

    tiles = district_tiles(data, Scope.city())
    tiles[0].lights["red"], tiles[0].boxes[0].online
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from hub.services import HubData, Scope
from standard.supervision import ACTIVE_STATES

LIGHT_KEYS = ("red", "yellow", "green", "unknown")
_ACTIVE = "(" + ", ".join(f"'{state}'" for state in ACTIVE_STATES) + ")"


@dataclass
class BoxState:
    box_id: str
    district_code: str
    last_seen: str | None
    last_seq: int
    acked_seq: int
    backlog: int
    chain: str
    online: bool


@dataclass
class DistrictTile:
    code: str
    name: str
    boxes: list[BoxState] = field(default_factory=list)
    lights: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIGHT_KEYS, 0))
    cards: dict[str, int] = field(default_factory=lambda: {"yellow": 0, "red": 0, "overdue": 0})
    ratings: dict[str, int] = field(default_factory=lambda: {"counted": 0, "satisfied": 0,
                                                             "bad": 0})
    absences: int = 0
    cameras_down: int = 0

    @property
    def open_cases(self) -> int:
        return sum(self.lights.values())

    @property
    def satisfaction(self) -> float | None:
        counted = self.ratings["counted"]
        return self.ratings["satisfied"] / counted if counted else None

    @property
    def online(self) -> str:
        """"all" | "some" | "none" | "nobox"."""
        if not self.boxes:
            return "nobox"
        up = sum(box.online for box in self.boxes)
        return "all" if up == len(self.boxes) else "some" if up else "none"

    @property
    def worst(self) -> str:
        if self.lights["red"]:
            return "red"
        return "yellow" if self.lights["yellow"] else "green"


def box_states(data: HubData, scope: Scope) -> list[BoxState]:
    """Boxes in scope, online when heard from within ``data.online_seconds``."""
    where, params = scope.sql(dept_col=None)
    now = data.clock()
    boxes = []
    for row in data.query(
            "select box_id, district_code, last_seen, last_seq, contiguous_seq, backlog,"
            f" chain_state from boxes where {where} order by box_id", params):
        seen = _parse(row["last_seen"])
        online = seen is not None and (now - seen).total_seconds() <= data.online_seconds
        boxes.append(BoxState(row["box_id"], row["district_code"], row["last_seen"],
                              row["last_seq"], row["contiguous_seq"], row["backlog"],
                              row["chain_state"], online))
    return boxes


def district_tiles(data: HubData, scope: Scope) -> list[DistrictTile]:
    """One tile per district the scope can see (a department user: every district)."""
    tiles = {code: DistrictTile(code, name) for code, name in scope.visible_districts().items()}
    if scope.sees_boxes:
        for box in box_states(data, scope):
            if box.district_code in tiles:
                tiles[box.district_code].boxes.append(box)
    where, params = scope.sql()
    for row in data.query("select district_code, light, count(*) as n from hub_cases"
                          f" where is_open = 1 and {where} group by district_code, light", params):
        tile = tiles.get(row["district_code"])
        if tile is not None:
            tile.lights[row["light"] if row["light"] in LIGHT_KEYS else "unknown"] += row["n"]
    today = data.today().isoformat()
    for row in data.query(
            "select district_code, card, count(*) as n,"
            " sum(case when card_due < ? then 1 else 0 end) as overdue"
            f" from hub_alerts where card is not null and state in {_ACTIVE} and {where}"
            " group by district_code, card", [today, *params]):
        tile = tiles.get(row["district_code"])
        if tile is not None and row["card"] in ("yellow", "red"):
            tile.cards[row["card"]] += row["n"]
            tile.cards["overdue"] += row["overdue"] or 0
    for row in data.query(
            "select district_code, sum(counted) as counted, sum(satisfied) as satisfied,"
            f" sum(bad) as bad from hub_rating_daily where day = ? and {where}"
            " group by district_code", [today, *params]):
        tile = tiles.get(row["district_code"])
        if tile is not None:
            tile.ratings = {key: row[key] or 0 for key in ("counted", "satisfied", "bad")}
    if scope.sees_boxes:
        _count_halls(data, scope, tiles)
    return list(tiles.values())


def _count_halls(data: HubData, scope: Scope, tiles: dict[str, DistrictTile]) -> None:
    """Today's absences (presence records) and the cameras not OK, per district."""
    where, params = scope.sql(dept_col=None)
    for row in data.query(
            "select district_code, count(*) as n from hub_absences where started_on = ?"
            f" and {where} group by district_code", [data.today().isoformat(), *params]):
        if row["district_code"] in tiles:
            tiles[row["district_code"]].absences = row["n"]
    for row in data.query("select district_code, count(*) as n from hub_cameras"
                          f" where ok = 0 and {where} group by district_code", params):
        if row["district_code"] in tiles:
            tiles[row["district_code"]].cameras_down = row["n"]


def totals(tiles: list[DistrictTile]) -> DistrictTile:
    """The city line: the sum of the tiles."""
    total = DistrictTile("", "合计")
    for tile in tiles:
        for key in LIGHT_KEYS:
            total.lights[key] += tile.lights[key]
        for key in total.cards:
            total.cards[key] += tile.cards[key]
        for key in total.ratings:
            total.ratings[key] += tile.ratings[key]
        total.absences += tile.absences
        total.cameras_down += tile.cameras_down
        total.boxes += tile.boxes
    return total


def tamper_alerts(data: HubData, scope: Scope, limit: int = 20) -> list[dict]:
    """Broken hash chains and gaps the receiver found, newest first (boxes' districts only)."""
    where, params = scope.sql("b.district_code", dept_col=None)
    return data.query(
        "select t.box_id, t.first_seq, t.last_seq, t.kind, t.detail, t.raised_at"
        f" from tamper_alerts t join boxes b on b.box_id = t.box_id where {where}"
        " order by t.id desc limit ?", [*params, limit])


def _parse(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)

"""The 12345 intake's data-quality alert (数据冲突): a ticket re-sent with different content.

The box opens a yellow 数据冲突 when its platform re-sends an ``event_id`` with other content
(edge/supervision/integrity.py); the hub does the same for the 12345 hotline system. A ticket
posted again with content that differs from the one registered is refused and quarantined
(hub/complaint_intake.py); in that same transaction the hub opens, or reopens, one alert per
district (the record's own, or its case's; "" when it names none: the city's), naming the latest tickets and counting the
conflicts since it opened. The city and that district see it on the overview page and at the
top of 投诉建言; a supervisor who has checked with the 12345 system which content is right marks
it 已核对 (resolved, with who and when); the next conflict opens it again.

Example::

    with store.transaction() as conn:
        raise_conflicts(conn, "2026-11-20T01:12:00+00:00", [("440605", "12345-0007", "TS…")])
    open_alerts(store, Scope.city())    # [{"district_code": "440605", "detail": "…", ...}]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hub.complaint_quarantine import scope_condition
from hub.services import Scope

# Created by migration 17 (hub/storage/migrations.py); a later change needs a new migration.
SCHEMA = """
create table if not exists hotline_alerts (
    id integer primary key, district_code text not null, rule text not null,
    state text not null, tickets text not null, conflicts integer not null,
    opened_at text not null, updated_at text not null, resolved_by text, resolved_at text,
    unique (district_code, rule));
"""
RULE = "数据冲突"
NAMED = 5  # tickets named in an alert's detail


class HotlineAlertNotFound(LookupError):
    """No open 12345 data-quality alert with that id in the user's scope."""


def raise_conflicts(conn, at: str, conflicts: Sequence[tuple[str, str, str]]) -> None:
    """Open or reopen the district's alert for these ``(district, ticket_no, tracking_no)``,
    in ``conn``'s transaction (the one that quarantines them)."""
    by_district: dict[str, list[list[str]]] = {}
    for district, ticket_no, tracking_no in conflicts:
        by_district.setdefault(district, []).append([ticket_no, tracking_no])
    for district, tickets in sorted(by_district.items()):
        conn.execute(
            "insert into hotline_alerts (district_code, rule, state, tickets, conflicts,"
            " opened_at, updated_at) values (?, ?, 'open', ?, ?, ?, ?)"
            " on conflict (district_code, rule) do update set state = 'open',"
            " tickets = excluded.tickets, updated_at = excluded.updated_at,"
            " conflicts = case when hotline_alerts.state = 'open'"
            " then hotline_alerts.conflicts + excluded.conflicts else excluded.conflicts end,"
            " opened_at = case when hotline_alerts.state = 'open'"
            " then hotline_alerts.opened_at else excluded.opened_at end,"
            " resolved_by = null, resolved_at = null",
            (district, RULE, json.dumps(tickets[-NAMED:], ensure_ascii=False), len(tickets),
             at, at))


def detail(row: dict[str, Any]) -> str:
    """What the alert says, from its latest tickets and its count.

    >>> detail({"tickets": '[["12345-0007", "TS1"]]', "conflicts": 1})
    '12345热线系统重发的工单与已登记内容不同（工单号 12345-0007，已登记为 TS1），已隔离未采用（以第一次登记的内容为准）；请与12345热线系统核对哪一份是正确的'
    """
    tickets = json.loads(row["tickets"])
    named = "、".join(f"{ticket}，已登记为 {tracking}" for ticket, tracking in tickets)
    more = f"；自预警开启共 {row['conflicts']} 条" if row["conflicts"] > len(tickets) else ""
    return (f"12345热线系统重发的工单与已登记内容不同（工单号 {named}{more}），已隔离未采用"
            "（以第一次登记的内容为准）；请与12345热线系统核对哪一份是正确的")


def open_alerts(store, scope: Scope) -> list[dict[str, Any]]:
    """The open alerts the scope may see (the city all, a district its own, a department none),
    latest first, each with its ``detail``."""
    where, params = scope_condition(scope)
    rows = store.query("select id, district_code, rule, tickets, conflicts, opened_at,"
                       f" updated_at from hotline_alerts where state = 'open' and {where}"
                       " order by updated_at desc, id desc", params)
    for row in rows:
        row["detail"] = detail(row)
    return rows


def resolve(store, scope: Scope, alert_id: int, user: str, at: str) -> None:
    """Mark an open alert 已核对; raises HotlineAlertNotFound outside the scope or when it is
    not open."""
    where, params = scope_condition(scope)
    with store.transaction() as conn:
        changed = conn.execute(
            "update hotline_alerts set state = 'resolved', resolved_by = ?, resolved_at = ?,"
            f" updated_at = ? where id = ? and state = 'open' and {where}",
            (user, at, at, alert_id, *params)).rowcount
    if not changed:
        raise HotlineAlertNotFound(f"没有编号为 {alert_id} 的待核对数据冲突预警")

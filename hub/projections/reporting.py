"""Platform reconciliations at the hub: per district, day and item, the platform's count of
records and the box's (edge/integration/reconcile.py), for the 数据报送完整率.

A box sends a ``reconciliation`` record each time it compares a day with the platform; a later
one for the same day and item replaces the earlier (the box's order, ``seq``, decides). The
department is the catalogue's for the item (empty when the hub's catalogue lacks it).

Example::

    record = {"seq": 9, "body": {"date": "2026-11-03",
              "items": [{"item_code": "440605-SCJ-001", "platform": 12, "box": 10}]}}
    run(conn, reconciliation_statements(ctx, conn, "440605-01", record))
"""

from __future__ import annotations

from typing import Any

from hub.projections.batchwise import Statement

# Created by migration 6 (hub/storage/migrations.py).
SCHEMA = """
create table if not exists hub_reconciliations (
    district_code text not null, day text not null, item_code text not null,
    dept_code text not null, platform integer not null, box integer not null,
    origin text not null, box_id text not null, seq integer not null,
    primary key (district_code, day, item_code));
create index if not exists hub_reconciliations_dept on hub_reconciliations(day, dept_code);
"""


def reconciliation_statements(ctx, conn, box_id: str,
                              record: dict[str, Any]) -> list[Statement]:
    body = record["body"]
    district = ctx.district_of(conn, box_id)
    day = str(body["date"])
    statements = []
    for item in body.get("items", []):
        code = str(item["item_code"])
        known = ctx.catalogue.get(code)
        statements.append((
            "insert into hub_reconciliations (district_code, day, item_code, dept_code, platform,"
            " box, origin, box_id, seq) values (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " on conflict (district_code, day, item_code) do update set"
            " dept_code = excluded.dept_code, platform = excluded.platform, box = excluded.box,"
            " origin = excluded.origin, box_id = excluded.box_id, seq = excluded.seq"
            " where excluded.seq >= hub_reconciliations.seq",
            (district, day, code, known.dept_code if known else "", int(item["platform"]),
             int(item["box"]), str(body.get("origin", "")), box_id, int(record["seq"]))))
    return statements

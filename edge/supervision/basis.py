"""What the verdicts were judged against: the catalogue's items and the working-day calendar.

A case is judged again when its facts change (edge/backlog.py marks it in the same transaction)
and, through this module, when what it was judged against changes: an item that arrives,
changes or leaves the catalogue marks its cases, so a 事项缺失 clears once the catalogue knows
the item; an item whose participating departments change has its cases folded again from their
events (their events move between the lead's stages and the shares); a new calendar marks the
cases that have an active alert. Each item's digest is kept in ``judged_items`` and the
calendar's fingerprint in ``meta``, so this holds across restarts and for ``edge check`` with
another catalogue file.

Example::

    basis = JudgedBasis(store)
    basis.sync(board.catalogue, board.calendar)     # how many cases it marked
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from edge import backlog
from edge.ingest import refold_cases
from edge.store import Store
from edge.storeschema import get_meta, set_meta
from edge.storetx import Tx
from edge.supervision.alerts import ACTIVE_STATES
from standard.calendar import WorkCalendar
from standard.records import CatalogueItem
from standard.shares import participants

_ACTIVE = "(" + ", ".join(f"'{state}'" for state in ACTIVE_STATES) + ")"
_IN_ITEMS = "select case_no from cases where item_code in (select value from json_each(?))"


def item_digest(item: CatalogueItem) -> str:
    return hashlib.sha256(item.model_dump_json().encode()).hexdigest()[:16]


class JudgedBasis:
    """Marks the cases whose verdict depends on what changed since they were judged."""

    def __init__(self, store: Store):
        self.store = store
        self._synced: tuple[object, object] | None = None  # (catalogue, calendar) last synced

    def sync(self, catalogue: Mapping[str, CatalogueItem], calendar: WorkCalendar) -> int:
        """Compare with what was last judged against; mark (and refold) what it concerns."""
        if self._synced is not None and self._synced[0] is catalogue \
                and self._synced[1] is calendar:
            return 0
        wanted = {code: (item_digest(item), ",".join(sorted(participants(item))))
                  for code, item in catalogue.items()}
        fingerprint = calendar.fingerprint()
        with self.store.read() as db:
            known = {code: (digest, joint) for code, digest, joint in db.conn.execute(
                "select item_code, digest, joint from judged_items")}
            calendar_was = get_meta(db.conn, "judged_calendar")
        changed = {code for code in wanted.keys() | known.keys()
                   if wanted.get(code) != known.get(code)}
        regrouped = {code for code in changed
                     if wanted.get(code, ("", ""))[1] != known.get(code, ("", ""))[1]}
        # The first sync of a store only records the basis: its cases were marked as they came
        # (and all of them when the store was upgraded); a joint item's are still refolded.
        marking = set() if calendar_was is None else changed
        new_calendar = calendar_was != fingerprint
        if not changed and not new_calendar:
            self._synced = (catalogue, calendar)
            return 0

        def apply(tx: Tx) -> int:
            conn = tx.conn
            if regrouped:
                refold_cases(tx, [row[0] for row in conn.execute(
                    _IN_ITEMS, (json.dumps(sorted(regrouped)),))], catalogue)
            marked = backlog.mark_where(conn, _IN_ITEMS, (json.dumps(sorted(marking)),))
            if new_calendar and calendar_was is not None:
                marked += backlog.mark_where(
                    conn, "select distinct case_no from alerts where case_no is not null"
                    f" and state in {_ACTIVE}")
            conn.executemany("delete from judged_items where item_code = ?",
                             [(code,) for code in changed - wanted.keys()])
            conn.executemany(
                "insert into judged_items (item_code, digest, joint) values (?, ?, ?) on"
                " conflict(item_code) do update set digest = excluded.digest,"
                " joint = excluded.joint", [(code, *wanted[code]) for code in changed & wanted.keys()])
            set_meta(conn, "judged_calendar", fingerprint)
            return marked

        marked = self.store.write(apply)
        self._synced = (catalogue, calendar)
        return marked

"""Alerts about the integrity of the box's data.

- 数据冲突 (``data:platform``, yellow): a re-sent record contradicts one kept.
- 数据库损坏 (``device:store``, red): ``PRAGMA quick_check`` found the database damaged
  (standard/storecheck.py); resolved by the system when a later check finds it sound.
- 序号异常 (``device:relay``, red): the hub acknowledged records beyond the last one this
  database made (edge/relay.py): relaying is held until a technician sees to it.

A record re-sent under a known ``event_id`` with different content is quarantined by ingest
(edge/ingest.py, reason "与已接收记录内容不同"); this opens, or reopens, one yellow alert
``data:platform`` (数据冲突) in the same transaction, naming the records, so the hall
manager and, through the outbox, the hub see that the platform's data needs checking.

Example::

    box.conflict_hooks.append(conflict_alert)
"""

from __future__ import annotations

from collections.abc import Callable

from edge.ingest import CONFLICT_REASON, Conflict
from edge.store import Store
from edge.storetx import Tx
from edge.supervision.alerts import Finding, raise_condition, resolve_condition

SUBJECT = "data:platform"
RULE = "数据冲突"
STORE_SUBJECT, STORE_RULE = "device:store", "数据库损坏"
SEQUENCE_SUBJECT, SEQUENCE_RULE = "device:relay", "序号异常"
NAMED = 5  # event ids named in the alert's detail


def conflict_alert(tx: Tx, conflicts: list[Conflict]) -> None:
    """Open or reopen the data-quality alert for these conflicts (an ingest ConflictHook)."""
    ids = "、".join(c.event_id for c in conflicts[:NAMED])
    more = f" 等 {len(conflicts)} 条" if len(conflicts) > NAMED else ""
    detail = (f"平台重发的记录{CONFLICT_REASON}（{conflicts[0].id_field} {ids}{more}），"
              "已隔离未采用；请与平台核对哪一份是正确的")
    raise_condition(tx, Finding(SUBJECT, RULE, "yellow", detail), tx.now)


def store_alert(store: Store) -> Callable[[str | None], None]:
    """A StoreWatch ``on_change``: raise 数据库损坏 while a check finds damage, resolve it after."""
    return condition_alert(store, STORE_SUBJECT, STORE_RULE, lambda problem: (
        f"箱体数据库检查发现损坏（{problem}）：暂停接收平台新记录；请技术员从备份恢复，或运行 "
        "hallwatch edge reinit（见 docs/box.md）"), "数据库检查恢复正常")


def sequence_alert(store: Store) -> Callable[[str | None], None]:
    """The relay's ``on_sequence``: raise 序号异常 while the hub is ahead of this database."""
    return condition_alert(store, SEQUENCE_SUBJECT, SEQUENCE_RULE, str, "序号已恢复一致")


def condition_alert(store: Store, subject: str, rule: str, detail: Callable[[str], str],
                    cleared: str) -> Callable[[str | None], None]:
    """A callback that raises a red alert with ``detail(problem)``, or resolves it on None."""

    def changed(problem: str | None) -> None:
        def write(tx: Tx) -> None:
            if problem:
                raise_condition(tx, Finding(subject, rule, "red", detail(problem)), tx.now)
            else:
                resolve_condition(tx, subject, rule, tx.now, cleared)
        store.write(write)

    return changed

"""The hub's side of a box whose database started over: an integrity alert, and where to go on.

Two cases reach the hub at a box's hello (hub/receiver.py):

- **re-initialised** (``"rebase": true``): a technician ran ``hallwatch edge reinit`` on the
  box. The hub raises a ``reinit`` integrity alert and answers, in the pong, the last sequence
  number it holds for the box and that record's chain hash; the box renumbers its new records
  to follow them, so none is taken for one the hub already has.
- **behind** (no rebase, but the box's last record is below what the hub acknowledged): the
  box's database was emptied, replaced or restored from an old backup without the command.
  The box holds its relaying (it refuses the hub's acknowledgement as its own sequence) and
  the hub raises a ``reset`` integrity alert, once per episode.

Both are shown with the other integrity alerts (tamper_alerts) on the overview page. Only SQL
that both hub engines run is used (``store.transaction``, ``store.query``).

Example::

    answer = rebase_answer(store, "440605-01", message, utc_iso())
    # {"base_seq": 200000, "chain_hash": "9f…"}
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def rebase_answer(store, box_id: str, message: dict[str, Any], now: str) -> dict[str, Any]:
    """Where a re-initialised box continues; raises the ``reinit`` alert (once per base)."""
    row = _box(store, box_id)
    base = max(row["last_seq"], row["contiguous_seq"]) if row else 0
    chain = row["chain_hash"] if row and row["chain_seq"] == base else None
    store_id = str(message.get("store_id") or "")[:64]
    detail = (f"箱体 {box_id} 的数据库已由技术员重新初始化（新数据库 {store_id or '未知'}）：旧数据库中"
              f"尚未送达市中心的记录已随之丢失；新记录从序号 {base + 1} 起接续。请核实原因"
              f" (box {box_id} re-initialised its database; new records follow seq {base})")
    if _raise_once(store, box_id, "reinit", base + 1, base + 1, detail, now):
        log.warning("box %s re-initialised its database (store %s): its records continue after"
                    " %d", box_id, store_id or "?", base)
    return {"base_seq": base, "chain_hash": bytes(chain).hex() if chain else None}


def check_behind(store, box_id: str, box_last: int | None, acked: int, now: str) -> None:
    """Raise the ``reset`` alert when a box's last record is below what the hub acknowledged."""
    if box_last is None or box_last >= acked:
        return
    detail = (f"箱体 {box_id} 报告的最后序号为 {box_last}，而市中心已确认到 {acked}：箱体数据库可能被"
              "清空、替换或从旧备份恢复。箱体已暂停上传；请技术员核查，确认后在箱体上运行 "
              f"hallwatch edge reinit (box {box_id} reports seq {box_last} below the hub's "
              f"{acked})")
    if _raise_once(store, box_id, "reset", box_last + 1, acked, detail, now):
        log.error("box %s is behind the hub: it reports seq %d, the hub acknowledged %d",
                  box_id, box_last, acked)


def _box(store, box_id: str) -> dict[str, Any] | None:
    rows = store.query("select last_seq, contiguous_seq, chain_seq, chain_hash from boxes"
                       " where box_id = ?", (box_id,))
    return rows[0] if rows else None


def _raise_once(store, box_id: str, kind: str, first: int, last: int, detail: str,
                now: str) -> bool:
    """Insert the integrity alert unless the same one is there; True when it is new."""
    with store.transaction() as conn:
        seen = conn.execute("select 1 from tamper_alerts where box_id = ? and kind = ?"
                            " and first_seq = ? and last_seq = ?",
                            (box_id, kind, first, last)).fetchone()
        if seen:
            return False
        conn.execute("insert into tamper_alerts (box_id, first_seq, last_seq, kind, detail,"
                     " raised_at) values (?, ?, ?, ?, ?, ?)",
                     (box_id, first, last, kind, detail, now))
        return True

"""Applying one box's batch inside a transaction: new rows, gaps as ranges, the hash chain.

Called by :meth:`hub.store.HubStore.apply_batch` with the box's lock held, so the reads here
(which sequence numbers are held, the box's marks) cannot race another receiver.

- **Exactly once.** One query for what is already held in the batch's range, then one bulk
  insert of the rest (``COPY`` on PostgreSQL), then the projections for the new rows only,
  each kind's at once (hub/projections/batchwise.py).
- **Gaps.** A hole inside ``[from_seq, last]`` beyond the hub's acknowledged mark is one row in
  ``missing_ranges`` and one integrity alert, however long it is: the work is proportional to
  the batch, never to the size of the jump.
- **The chain.** Verified in memory for a batch that continues the chain (the usual case),
  then from the stored rows, in chunks, for records that arrived ahead of a backlog.
"""

from __future__ import annotations

import logging
from typing import Any

from hub.storage.engines import insert_new
from standard.envelope import GENESIS, chain_hash

log = logging.getLogger(__name__)
CHAIN_CHUNK = 5000
_COLUMNS = ("box_id", "seq", "kind", "at", "body", "hash", "received_at")


def ensure_box(conn, box_id: str, district_code: str) -> None:
    conn.execute("insert into boxes (box_id, district_code) values (?, ?)"
                 " on conflict (box_id) do nothing", (box_id, district_code))


def apply_records(conn, appliers, box_id: str, district_code: str,
                  parsed: list[tuple[dict[str, Any], str, bytes]], from_seq: int,
                  backlog: int | None, now: str, *,
                  careful: bool = False) -> tuple[int, int, list[str]]:
    """Apply ``parsed``; returns (new rows, the box's acked mark, tamper messages).

    ``careful``: run each projection's careful form (``apply.careful``, under a savepoint)
    where it has one, after the plain run of the batch raised.
    """
    ensure_box(conn, box_id, district_code)
    tamper: list[str] = []
    fresh = []
    if parsed:
        held = {row[0] for row in conn.execute(
            "select seq from records where box_id = ? and seq between ? and ?",
            (box_id, parsed[0][0]["seq"], parsed[-1][0]["seq"]))}
        fresh = [row for row in parsed if row[0]["seq"] not in held]
        _insert(conn, box_id, fresh, now)
        _project(conn, appliers, box_id, [record for record, _, _ in fresh], careful)
        tamper += _note_gaps(conn, box_id, from_seq, [r["seq"] for r, _, _ in parsed], now)
    acked = _advance(conn, box_id, now, tamper, fresh)
    last = parsed[-1][0]["seq"] if parsed else 0
    conn.execute("update boxes set last_seen = ?, backlog = coalesce(?, backlog),"
                 " last_seq = case when last_seq < ? then ? else last_seq end,"
                 " record_count = record_count + ? where box_id = ?",
                 (now, backlog, last, last, len(fresh), box_id))
    return len(fresh), acked, tamper


def _project(conn, appliers, box_id: str, records: list[dict[str, Any]], careful: bool) -> None:
    """Run the projections on the new records: each kind's records at once (``apply.many``)
    where the applier can, else one by one; ``careful``: one by one, each under a savepoint.
    Appliers of different kinds write different tables, so kinds need not interleave."""
    if careful:
        for record in records:
            for apply in appliers.get(record["kind"], ()):
                getattr(apply, "careful", apply)(conn, box_id, record)
        return
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_kind.setdefault(record["kind"], []).append(record)
    for kind, batch in by_kind.items():
        for apply in appliers.get(kind, ()):
            many = getattr(apply, "many", None)
            if many is not None:
                many(conn, box_id, batch)
            else:
                for record in batch:
                    apply(conn, box_id, record)


def _insert(conn, box_id: str, fresh: list, now: str) -> None:
    # the box's lock is held and held rows were skipped: nothing can conflict
    insert_new(conn, "records", _COLUMNS, [
        (box_id, record["seq"], record["kind"], record["at"], text, digest, now)
        for record, text, digest in fresh])


def _note_gaps(conn, box_id: str, from_seq: int, seqs: list[int], now: str) -> list[str]:
    """Sequence numbers the box skipped inside [from_seq, last] are gone from the box.

    Only what lies beyond what this hub has acknowledged can be a gap: at or below its
    own mark every number was received (or reported missing) already, so a resend that
    starts below it is duplicates, however much the box has pruned since. Beyond it, a
    hole the box says was acknowledged before (its hello's ``acked_seq``; ahead of the
    hub's mark only after the hub was restored from a backup) was pruned on the box after
    its retention period: lost with the backup rather than deleted on the box, so it is
    noted as missing (reason ``pruned``) and shown to the supervisors as a ``pruned``
    integrity alert that says so, without marking the chain broken (the box's claim is
    what makes it so; a hub that was never restored should have it checked). Any other
    hole is a gap.
    """
    acked, box_acked = conn.execute(
        "select contiguous_seq, box_acked_seq from boxes where box_id = ?",
        (box_id,)).fetchone()
    first, last = max(from_seq, acked + 1), seqs[-1]
    holes = _without([(first, last)], _runs(seqs)) if first <= last else []
    if not holes:
        return []
    # A hole reported once, or filled by rows that came earlier, is not a new alert.
    held = [row[0] for row in conn.execute(
        "select seq from records where box_id = ? and seq between ? and ? order by seq",
        (box_id, first, last))]
    holes = _without(holes, _runs(held))
    holes = _without(holes, conn.execute(
        "select first_seq, last_seq from missing_ranges where box_id = ? and last_seq >= ?"
        " and first_seq <= ? order by first_seq", (box_id, first, last)).fetchall())
    messages = []
    for start, end in holes:
        pruned_end = min(end, box_acked)
        if start <= pruned_end:
            _missing(conn, box_id, start, pruned_end, "pruned")
            log.warning("box %s no longer holds records %d-%d: acknowledged before this"
                        " hub's database was restored, then pruned on the box; they are"
                        " lost with the backup", box_id, start, pruned_end)
            _tamper(conn, box_id, start, pruned_end, "pruned",
                    f"箱体 {box_id} 的记录 {start}–{pruned_end} 此前已被中心确认，箱体已按"
                    "保留期清理，无法补发（中心数据库从备份恢复后随备份丢失）；"
                    "如中心未做过恢复，请核查该箱体", now, chain=False)
        if end > box_acked:
            start = max(start, box_acked + 1)
            _missing(conn, box_id, start, end, "gap")
            detail = f"箱体 {box_id} 的记录 {start}–{end} 缺失（链断裂），疑似被删除"
            _tamper(conn, box_id, start, end, "gap", detail, now)
            messages.append(detail)
    return messages


def _missing(conn, box_id: str, first: int, last: int, reason: str) -> None:
    conn.execute("insert into missing_ranges (box_id, first_seq, last_seq, reason)"
                 " values (?, ?, ?, ?) on conflict (box_id, first_seq) do nothing",
                 (box_id, first, last, reason))


def _tamper(conn, box_id, first, last, kind, detail, now, chain: bool = True) -> None:
    """An integrity alert for the supervisors; ``chain``: the box's chain is marked broken."""
    conn.execute("insert into tamper_alerts (box_id, first_seq, last_seq, kind, detail,"
                 " raised_at) values (?, ?, ?, ?, ?, ?)",
                 (box_id, first, last, kind, detail, now))
    if chain:
        conn.execute("update boxes set chain_state = ? where box_id = ?",
                     (f"{kind} {first}-{last}", box_id))


def _advance(conn, box_id: str, now: str, tamper: list[str], fresh: list) -> int:
    """Move the contiguous mark and verify the hash chain as far as records allow."""
    contiguous, chain_seq, stored_hash = conn.execute(
        "select contiguous_seq, chain_seq, chain_hash from boxes where box_id = ?",
        (box_id,)).fetchone()
    prev = bytes(stored_hash) if stored_hash is not None else GENESIS
    expected = chain_seq + 1
    # The usual batch continues the chain: verify it from memory, without reading it back.
    for record, text, digest in fresh:
        if record["seq"] != expected:
            break
        prev = _verified(conn, box_id, record["seq"], prev, text, digest, now, tamper)
        expected += 1
    blocked = False
    while not blocked:
        rows = conn.execute("select seq, body, hash from records where box_id = ? and seq >= ?"
                            " order by seq limit ?", (box_id, expected, CHAIN_CHUNK)).fetchall()
        for seq, body, digest in rows:
            digest = bytes(digest)
            if seq != expected:
                if not _all_reported(conn, box_id, expected, seq - 1):
                    blocked = True  # not all reported missing: the rest has not arrived yet
                    break
                prev = digest  # after a reported gap, resume from the box's own hash
            else:
                prev = _verified(conn, box_id, seq, prev, body, digest, now, tamper)
            expected = seq + 1
        if len(rows) < CHAIN_CHUNK:
            break
    chain_seq = expected - 1
    contiguous = max(contiguous, chain_seq)
    conn.execute("update boxes set contiguous_seq = ?, chain_seq = ?, chain_hash = ?"
                 " where box_id = ?", (contiguous, chain_seq, prev, box_id))
    return contiguous


def _verified(conn, box_id, seq, prev: bytes, text: str, digest: bytes, now, tamper) -> bytes:
    """The chain after record ``seq``; a record whose hash does not follow is an alert."""
    if chain_hash(prev, text.encode()) != digest:
        detail = f"箱体 {box_id} 的记录 {seq} 内容与哈希链不符，疑似被篡改"
        _tamper(conn, box_id, seq, seq, "changed", detail, now)
        tamper.append(detail)
    return digest


def _all_reported(conn, box_id: str, first: int, last: int) -> bool:
    """Whether every number in [first, last] lies in a reported missing range."""
    needed = first
    for start, end in conn.execute(
            "select first_seq, last_seq from missing_ranges where box_id = ? and last_seq >= ?"
            " and first_seq <= ? order by first_seq", (box_id, first, last)).fetchall():
        if start > needed:
            return False
        needed = max(needed, end + 1)
        if needed > last:
            return True
    return needed > last


# -- ranges of sequence numbers ----------------------------------------------------------
def _without(holes: list[tuple[int, int]], taken) -> list[tuple[int, int]]:
    """``holes`` minus the ascending ranges ``taken`` (both lists of inclusive ranges)."""
    out = []
    taken = list(taken)
    for start, end in holes:
        for t_start, t_end in taken:
            if t_end < start or t_start > end:
                continue
            if t_start > start:
                out.append((start, t_start - 1))
            start = t_end + 1
            if start > end:
                break
        if start <= end:
            out.append((start, end))
    return out


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs

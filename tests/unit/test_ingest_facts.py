"""Stored case facts are always what folding every event gives: across chunks, across writers
(another process on the same file) and after a chunk that rolled back. A guard for any future
caching of facts between chunks."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import edge.casefold
import edge.ingest
from edge.ingest import ingest_texts
from edge.store import Store
from hallwatch.sim import Platform
from standard.deadlines import CaseFacts, apply_event
from standard.records import CaseEvent

CASE = {
    "case_no": "NH2026110001", "item_code": "440605-SCJ-002", "dept_code": "440605SCJ",
    "district_code": "440605", "actor": {"id": "S017", "name": "李敏"},
}


def event(event_id: str, event_type: str, day: int) -> str:
    return json.dumps({**CASE, "event_id": event_id, "event_type": event_type,
                       "occurred_at": f"2026-11-{day:02d}T09:00:00+08:00"}, ensure_ascii=False)


def stored_facts(store: Store, case_no: str = CASE["case_no"]) -> CaseFacts:
    [row] = store.query("select facts from cases where case_no = ?", (case_no,))
    return CaseFacts.from_json(row["facts"])


def test_a_case_written_by_another_process_is_read_again(tmp_path):
    path = tmp_path / "box.db"
    with Store(path, box_id="b") as box, Store(path, box_id="b") as other:
        ingest_texts(box, [(0, event("E-1", "受理", 2))], source="test")
        ingest_texts(other, [(0, event("E-2", "承办", 3))], source="test")
        ingest_texts(box, [(0, event("E-3", "审核", 4))], source="test")
        facts = stored_facts(box)
    assert facts.event_count == 3
    assert list(facts.stage_started) == ["受理", "承办", "审核"]


def test_a_rolled_back_chunk_leaves_no_facts_behind(tmp_path):
    def refuse(tx, events):
        if any(e.event_id == "E-2" for e in events):
            raise RuntimeError("hook failed")

    with Store(tmp_path / "box.db", box_id="b") as store:
        ingest_texts(store, [(0, event("E-1", "受理", 2))], source="test", hooks=[refuse])
        with pytest.raises(RuntimeError):
            ingest_texts(store, [(0, event("E-2", "承办", 3))], source="test", hooks=[refuse])
        ingest_texts(store, [(0, event("E-3", "审核", 4))], source="test", hooks=[refuse])
        facts = stored_facts(store)
    assert facts.event_count == 2
    assert list(facts.stage_started) == ["受理", "审核"]


@pytest.mark.parametrize("cached_cases", [edge.casefold.CACHE_CASES, 5])
def test_stored_facts_equal_a_fold_of_every_event(tmp_path, monkeypatch, cached_cases):
    monkeypatch.setattr(edge.ingest, "CHUNK", 37)  # many chunks, cases spread across them
    # a small cache of written facts: most cases are read back, some come from memory
    monkeypatch.setattr(edge.casefold.FactsCache.__init__, "__defaults__", (cached_cases,))
    platform = Platform("440605", seed=3, windows=4)
    start = dt.datetime(2026, 6, 1, 1, tzinfo=dt.timezone.utc)
    lines = [json.dumps(e, ensure_ascii=False)
             for day in range(20) for e in platform.backlog(start + dt.timedelta(days=day), 1, 15)]
    expected: dict[str, CaseFacts] = {}
    for line in lines:
        parsed = CaseEvent.model_validate_json(line)
        expected[parsed.case_no] = apply_event(expected.get(parsed.case_no), parsed)
    with Store(tmp_path / "box.db", box_id="b") as store:
        result = ingest_texts(store, enumerate(lines), source="test")
        stored = {row["case_no"]: CaseFacts.from_json(row["facts"])
                  for row in store.query("select case_no, facts from cases")}
    assert result.accepted == len(lines)
    assert stored == expected

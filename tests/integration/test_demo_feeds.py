"""The demo connects 三水 through a 中间库 (a SQLite file) and 高明 through a drop folder: the
folder the demo provisions makes each box read its platform by itself, every event once."""

from __future__ import annotations

import datetime as dt

from edge.app import build_box
from edge.config import load_box_config
from edge.integration import source_states
from hallwatch.demo import provision
from tests.integration.relay_harness import free_port, wait_for

NOW = dt.datetime(2026, 11, 10, 2, 0, tzinfo=dt.timezone.utc)


def stored(box) -> int:
    return box.store.query("select count(*) as n from case_events")[0]["n"]


def test_the_demo_feeds_one_district_by_a_zhongjianku_and_one_by_a_drop_folder(tmp_path):
    _, boxes = provision(tmp_path, free_port(), free_port(), free_port())
    fed = {demo.code: demo for demo in boxes if demo.feed is not None}
    assert {code: demo.feed.label for code, demo in fed.items()} == {"440607": "中间库",
                                                                    "440608": "文件夹"}
    for demo in fed.values():
        events = demo.platform.history(NOW - dt.timedelta(days=2), NOW, 6)
        box = build_box(load_box_config(demo.config_path)).start()
        try:
            assert demo.feed.send(events, now=True) == len(events)
            # A file's counts are noted after its rows are committed: wait for both.
            (state,) = wait_for(
                lambda box=box, n=len(events): [s for s in source_states(box.store)
                                                if s.accepted >= n and stored(box) >= n],
                60, what=f"{demo.name}'s events via its {demo.feed.label}")
            count = stored(box)
        finally:
            box.stop()
        assert count == len(events)  # every event once
        assert (state.kind, state.accepted, state.rejected, state.failures) == (
            demo.feed.kind, len(events), 0, 0)
    done = fed["440608"].feed.place / "done"
    assert [p.name for p in done.glob("*.csv")] == ["办件导出-00001.csv"]

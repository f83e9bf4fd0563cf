"""The demo's platforms that cannot push the standard (docs/integration.md): 三水 writes its
rows into a 中间库 (a SQLite file) that its box reads, 高明 drops GB18030 CSV exports into its
box's folder. Both use the made-up platform layout of ``hallwatch/exchange.py``.

Example::

    feed = platform_feed("440607", Path(".demo"))
    _rewrite_toml(box_dir / "box.toml", sources=feed.sources())
    feed.send(events)
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

from hallwatch.exchange import MAPPING_FILE, Exchange, PlatformRows, drop_export

FEEDS = {"440607": "database", "440608": "folder"}
EXPORT_EVERY_SECONDS = 10.0  # the drop folder's platform exports this often
RECONCILE = ("select sxbm, count(*) from t_bj_hjxx where clsj >= :start and clsj < :end"
             " group by sxbm")


@dataclass
class PlatformFeed:
    """One district's platform writing to its 中间库 or its drop folder."""

    kind: str
    place: Path  # the SQLite file, or the box's drop folder
    rows: PlatformRows = field(default_factory=PlatformRows)
    exchange: Exchange | None = None
    waiting: list[dict] = field(default_factory=list)
    last_export: float = 0.0
    exports: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def label(self) -> str:
        return "中间库" if self.kind == "database" else "文件夹"

    def sources(self) -> list[dict]:
        """The box's [[sources]] entry for this platform."""
        common = {"name": f"demo-{self.kind}", "interval_seconds": 2.0,
                  "mapping_file": str(MAPPING_FILE)}
        if self.kind == "database":
            return [{**common, "kind": "database", "url": f"sqlite:///{self.place}",
                     "table": "t_bj_hjxx", "watermark": "xh", "reconcile": {"query": RECONCILE}}]
        return [{**common, "kind": "folder", "folder": str(self.place)}]

    def send(self, events: list[dict], *, now: bool = False) -> int:
        """Write ``events`` as the platform does; returns how many were written (or queued)."""
        if self.exchange is not None:
            return self.exchange.insert(events)
        self.waiting.extend(events)
        if self.waiting and (now or time.monotonic() - self.last_export >= EXPORT_EVERY_SECONDS):
            name = f"办件导出-{next(self.exports):05d}.csv"
            drop_export(self.place, name, self.rows.rows(self.waiting))
            self.waiting.clear()
            self.last_export = time.monotonic()
        return len(events)


def platform_feed(code: str, demo_folder: Path) -> PlatformFeed | None:
    """The feed of a district the demo connects without HTTP, or None (it pushes)."""
    kind = FEEDS.get(code)
    if kind is None:
        return None
    if kind == "database":
        place = demo_folder / "platforms" / f"{code}-zjk.db"
        place.parent.mkdir(parents=True, exist_ok=True)
        exchange = Exchange(f"sqlite:///{place}")
        exchange.create()  # before the box first looks for the table
        return PlatformFeed(kind, place, exchange=exchange)
    return PlatformFeed(kind, demo_folder / "boxes" / code / "incoming")

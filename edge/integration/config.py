"""``[[sources]]`` in box.toml: where a district platform's rows come from, and their mapping.

Example::

    [[sources]]
    name = "nanhai-zjk"
    kind = "database"                      # a 中间库 read with SQLAlchemy
    url_file = "keys/zjk.url"              # postgresql+psycopg://reader:...@10.0.0.5/exchange
    table = "t_bj_hjxx"                    # or query = "select ... from ..."
    watermark = "xh"                       # a column that only grows
    mapping_file = "mapping.toml"          # or an inline [sources.mapping] table

    [[sources]]
    name = "gaoming-drop"
    kind = "folder"
    folder = "incoming"
    mapping_file = "mapping.toml"
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from edge.integration.mapping import Mapping
from standard.configfile import ConfigError, Section, load_toml

NAME_PATTERN = r"^[0-9A-Za-z_\-]{1,40}$"
MAX_BATCH = 5_000  # one batch is one store transaction (edge.ingest.CHUNK)


class ReconcileSection(Section):
    """The platform's own count per item for a day, read once a day from the 中间库.

    ``query`` returns rows of (item_code, count); it may use ``:day`` ('2026-11-02'), and
    ``:start`` / ``:end`` ('2026-11-02 00:00:00' / '2026-11-03 00:00:00', the platform's time).
    """

    query: str = Field(min_length=10)
    at: str = Field(default="01:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # yesterday, daily


class SourceSection(Section):
    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["database", "folder"]
    mapping: Mapping | None = None  # inline [sources.mapping] table
    mapping_file: str | None = Field(default=None, min_length=1)  # or a file beside box.toml
    interval_seconds: float = Field(default=30.0, ge=0.2, le=86400)
    max_backoff_seconds: float = Field(default=600.0, ge=1, le=86400)
    alert_after_failures: int = Field(default=3, ge=1, le=1000)  # then a 数据源中断 alert
    # kind = "database"
    url: str | None = None
    url_file: str | None = None  # the URL in a file (it carries a password): keys/zjk.url
    table: str | None = Field(default=None, pattern=r"^[0-9A-Za-z_.$]+$")
    query: str | None = Field(default=None, min_length=10)
    watermark: str | None = Field(default=None, min_length=1)
    batch_size: int = Field(default=1000, ge=1, le=MAX_BATCH)
    reconcile: ReconcileSection | None = None
    # kind = "folder"
    folder: str | None = None
    encoding: Literal["auto", "utf-8", "gb18030"] = "auto"  # auto: UTF-8, else GB18030
    require_ok_marker: bool = False  # only read a file once "<file>.ok" appears
    sheet: str | None = None  # XLSX: the sheet to read (default: the first)

    @model_validator(mode="after")
    def _keys_fit_the_kind(self) -> SourceSection:
        if (self.mapping is None) == (self.mapping_file is None):
            raise ValueError(f"source {self.name}: give mapping_file = \"mapping.toml\" or an "
                             "inline [sources.mapping] table (one of them)")
        database = ("url", "url_file", "table", "query", "watermark", "reconcile", "batch_size")
        folder = ("folder", "encoding", "require_ok_marker", "sheet")
        if self.kind == "database":
            if (self.url is None) == (self.url_file is None):
                raise ValueError(f"source {self.name}: give url or url_file (one of them)")
            if (self.table is None) == (self.query is None):
                raise ValueError(f"source {self.name}: give table or query (one of them)")
            if self.watermark is None:
                raise ValueError(f"source {self.name}: watermark is missing: name a column "
                                 "that only grows (a sequence number or an update time)")
            wrong = [k for k in folder if k in self.model_fields_set]
        else:
            if self.folder is None:
                raise ValueError(f"source {self.name}: folder is missing (the drop folder)")
            wrong = [k for k in database if k in self.model_fields_set]
        if wrong:
            raise ValueError(f"source {self.name}: {wrong[0]} is not for kind = \"{self.kind}\"")
        return self


def unique_names(sources: list[SourceSection]) -> list[SourceSection]:
    seen: set[str] = set()
    for source in sources:
        if source.name in seen:
            raise ValueError(f"source name {source.name!r} appears twice: names must differ")
        seen.add(source.name)
    return sources


def source_mapping(source: SourceSection, base_dir: Path) -> Mapping:
    """The source's mapping: inline, or read from its file (ConfigError names the key)."""
    if source.mapping is not None:
        return source.mapping
    return load_toml(base_dir / source.mapping_file, Mapping)


def source_url(source: SourceSection, base_dir: Path) -> str:
    """The database URL, from ``url`` or from the file ``url_file`` names."""
    if source.url is not None:
        return source.url
    path = base_dir / source.url_file
    try:
        url = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read source {source.name}'s url_file: "
                          f"{exc.strerror}") from None
    if "://" not in url:
        raise ConfigError(f"{path}: not a database URL (e.g. postgresql+psycopg://user:pw@host/db)")
    return url

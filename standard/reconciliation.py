"""The platform's daily reconciliation (对账): its count of records per item for one day.

Part of the data-exchange standard: the body of ``POST /api/v1/platform/reconciliation``,
published as ``docs/standard/reconciliation.schema.json``. The box compares the counts with
what it stored for that day (edge/integration/reconcile.py).

Example::

    >>> PlatformCounts.model_validate({"date": "2026-11-02",
    ...     "counts": [{"item_code": "440605-SCJ-001", "count": 12}]}).by_item()
    {'440605-SCJ-001': 12}
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from standard.fields import Code, DistrictCode


class ItemCountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item_code: Code
    count: int = Field(ge=0, le=10_000_000)


class PlatformCounts(BaseModel):
    """The body of ``POST /api/v1/platform/reconciliation``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    date: dt.date
    district_code: DistrictCode | None = None
    counts: list[ItemCountIn] = Field(max_length=20_000)

    @field_validator("counts")
    @classmethod
    def _each_item_once(cls, value: list[ItemCountIn]) -> list[ItemCountIn]:
        codes = [item.item_code for item in value]
        twice = sorted({code for code in codes if codes.count(code) > 1})
        if twice:
            raise ValueError(f"item_code {twice[0]} appears twice: give one count per item")
        return value

    def by_item(self) -> dict[str, int]:
        return {item.item_code: item.count for item in self.counts}

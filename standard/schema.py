"""Publish the data-exchange standard as JSON Schema: ``python -m standard.schema [DIR]``.

The schema files in ``docs/standard/`` are generated from the models in
:mod:`standard.records` and :mod:`standard.evaluations`, with the rules the models check in
code written out as schema (if/then per event type); a test fails if the files drift, and
``tests/unit/test_schema_conformance.py`` runs every test record through both the box and
``jsonschema`` and requires the same verdict. The OpenAPI document of the box's platform API
(:mod:`standard.openapi`) is written beside them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from standard.evaluations import Evaluation
from standard.reconciliation import PlatformCounts
from standard.records import FIELDS_FOR_EVENTS, STANDARD_VERSION, CaseEvent, Catalogue, CaseType

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "docs" / "standard"
BASE_ID = "https://hallwatch.example/standard/v1"
SCHEMAS = {"case-event.schema.json": CaseEvent, "catalogue.schema.json": Catalogue,
           "evaluation.schema.json": Evaluation, "reconciliation.schema.json": PlatformCounts}
# Rules that need more than one value of one field, which JSON Schema cannot state; the box
# checks them after the schema (the standard's page lists them too).
BOX_CHECKS = {
    "catalogue.schema.json": [
        "item_code is unique in the file",
        "promised_days <= legal_days",
        "joint_depts: each dept_code once, and never the item's own (lead) dept_code",
    ],
}


def schema_documents() -> dict[str, dict]:
    """File name -> JSON Schema document, for every published record."""
    documents = {}
    for name, model in SCHEMAS.items():
        schema = model.model_json_schema(mode="validation")
        _forbid_trailing_newline(schema)
        documents[name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{BASE_ID}/{name}",
            "x-standard-version": STANDARD_VERSION,
            **schema,
        }
        if name in BOX_CHECKS:
            documents[name]["x-box-checks-after-schema"] = BOX_CHECKS[name]
    documents["case-event.schema.json"]["allOf"] = event_type_rules()
    documents["catalogue.schema.json"]["$defs"]["CatalogueItem"]["allOf"] = [joint_depts_rule()]
    return documents


def event_type_rules() -> list[dict[str, Any]]:
    """One if/then/else per field that only some event types carry (FIELDS_FOR_EVENTS).

    >>> event_type_rules()[2]["then"]["required"]
    ['fee_amount']
    """
    rules = []
    for field, kinds in FIELDS_FOR_EVENTS.items():
        rules.append({
            "if": {"properties": {"event_type": {"enum": list(kinds)}},
                   "required": ["event_type"]},
            "then": {"required": [field], "properties": {field: {"not": {"type": "null"}}}},
            "else": {"properties": {field: {"type": "null"}}},
        })
    return rules


def joint_depts_rule() -> dict[str, Any]:
    """Only a 联办件 item lists joint_depts (an empty list is the same as none)."""
    return {"if": {"properties": {"case_type": {"not": {"const": CaseType.JOINT.value}}}},
            "then": {"properties": {"joint_depts": {"maxItems": 0}}}}


def _forbid_trailing_newline(node: Any) -> None:
    # Validators built on Python's re (jsonschema) let "$" match before a final newline, so
    # "E-1\n" would pass "^[0-9A-Za-z._-]+$" there while ECMA-262 (ajv) and the box refuse it.
    if isinstance(node, dict):
        if "pattern" in node and node["pattern"] != "\n" and "not" not in node:
            node["not"] = {"pattern": "\n"}
        for value in node.values():
            _forbid_trailing_newline(value)
    elif isinstance(node, list):
        for value in node:
            _forbid_trailing_newline(value)


def render(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"

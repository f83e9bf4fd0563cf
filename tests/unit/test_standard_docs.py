"""The published standard matches the code: schema files, examples and the docs page."""

from __future__ import annotations

from edge.filefeed import file_records
from standard.catalogue import load_catalogue
from standard.records import CaseEvent
from standard.schema import DEFAULT_DIR, render, schema_documents

EXAMPLES = DEFAULT_DIR / "examples"


def test_schema_files_are_generated_from_the_models():
    for name, document in schema_documents().items():
        published = (DEFAULT_DIR / name).read_text(encoding="utf-8")
        assert published == render(document), f"{name} is stale: run `make schema`"


def test_case_event_schema_forbids_unknown_fields_and_lists_event_types():
    schema = schema_documents()["case-event.schema.json"]
    assert schema["additionalProperties"] is False
    types = schema["$defs"]["EventType"]["enum"]
    assert types[:6] == ["申请", "受理", "承办", "审核", "批准", "办结"] and "收费" in types


def test_every_example_is_valid():
    assert len(load_catalogue(EXAMPLES / "catalogue.json")) == 10
    for name in ("events.ndjson", "events.json", "events.csv", "joint.ndjson"):
        for _, text in file_records(EXAMPLES / name):
            CaseEvent.model_validate_json(text, strict=True)


def test_readme_documents_every_field():
    page = (DEFAULT_DIR / "README.md").read_text(encoding="utf-8")
    for field in CaseEvent.model_fields:
        assert f"`{field}`" in page, f"docs/standard/README.md does not describe {field}"

"""The OpenAPI document of the platform API: valid OpenAPI 3.1, built on the published schemas,
and describing the answers the box really gives."""

from __future__ import annotations

import json

import jsonschema
from openapi_spec_validator import validate as validate_openapi

from edge.ingest import ingest_texts
from edge.store import Store
from standard.openapi import ANSWERS, openapi_document
from standard.schema import DEFAULT_DIR, render, schema_documents
from tests.unit.test_ingest import raw

DOCUMENT = openapi_document()


def component_validator(name: str) -> jsonschema.Draft202012Validator:
    """A validator for one component, resolving its refs inside the OpenAPI document."""
    root = {**DOCUMENT["components"]["schemas"][name],
            "components": DOCUMENT["components"]}
    return jsonschema.Draft202012Validator(
        root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_the_document_is_valid_openapi_3_1_and_published():
    validate_openapi(DOCUMENT)
    assert DOCUMENT["openapi"] == "3.1.0"
    published = (DEFAULT_DIR / "openapi.json").read_text(encoding="utf-8")
    assert published == render(DOCUMENT), "docs/standard/openapi.json is stale: run `make schema`"


def test_record_bodies_are_the_published_schemas():
    components = DOCUMENT["components"]["schemas"]

    def as_published(schema: dict) -> dict:
        return json.loads(json.dumps(schema, ensure_ascii=False).replace(
            "#/components/schemas/", "#/$defs/"))

    for file_name, name in (("case-event.schema.json", "CaseEvent"),
                            ("evaluation.schema.json", "Evaluation"),
                            ("reconciliation.schema.json", "PlatformCounts")):
        published = schema_documents()[file_name]
        body = as_published(components[name])
        assert body.pop("description").endswith(f"Published as docs/standard/{file_name}.")
        assert body == {k: v for k, v in published.items()
                        if k not in ("$schema", "$id", "$defs", "description")}
        for def_name, definition in published.get("$defs", {}).items():
            assert as_published(components[def_name]) == definition


def test_every_answer_says_what_the_platform_should_do():
    for path in ("/api/v1/platform/events", "/api/v1/evaluations"):
        responses = DOCUMENT["paths"][path]["post"]["responses"]
        assert set(responses) == {"200", "400", "401", "413", "422", "503", "507"}
        for code, response in responses.items():
            assert ANSWERS[code][1] in response["description"]
        assert "Retry-After" in responses["503"]["headers"]
    assert "resend" in ANSWERS["507"][1] and "do not resend it unchanged" in ANSWERS["400"][1]


def test_the_box_answer_matches_the_documented_shape(tmp_path):
    with Store(tmp_path / "box.db", box_id="440605-01") as store:
        result = ingest_texts(store, [(0, raw()), (1, raw(event_type="收费", event_id="E-2"))],
                              source="test")
    answer = result.as_dict()
    assert answer["rejected"] == [{"index": 1, "errors": [
        {"field": "fee_amount",
         "message": "收费事件必须填写 fee_amount (fee_amount is required for 收费)"}]}]
    component_validator("IngestAnswer").validate(answer)
    record = json.loads(raw())
    component_validator("CaseEvent").validate(record)
    assert not component_validator("CaseEvent").is_valid({**record, "event_type": "延期"})


def test_the_reconciliation_intake_is_described_with_its_answers():
    operation = DOCUMENT["paths"]["/api/v1/platform/reconciliation"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PlatformCounts"}
    assert set(operation["responses"]) == {"200", "401", "413", "422", "507"}
    assert "problems" in operation["responses"]["422"]["description"]

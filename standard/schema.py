"""Publish the data-exchange standard as JSON Schema: ``python -m standard.schema [DIR]``.

The schema files in ``docs/standard/`` are generated from the models in
:mod:`standard.records`; a test fails if they drift apart.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from standard.evaluations import Evaluation
from standard.records import STANDARD_VERSION, CaseEvent, Catalogue

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "docs" / "standard"
BASE_ID = "https://hallwatch.example/standard/v1"
SCHEMAS = {"case-event.schema.json": CaseEvent, "catalogue.schema.json": Catalogue,
           "evaluation.schema.json": Evaluation}


def schema_documents() -> dict[str, dict]:
    """File name -> JSON Schema document, for every published record."""
    documents = {}
    for name, model in SCHEMAS.items():
        schema = model.model_json_schema(mode="validation")
        documents[name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{BASE_ID}/{name}",
            "x-standard-version": STANDARD_VERSION,
            **schema,
        }
    return documents


def render(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def write_schemas(folder: Path = DEFAULT_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in schema_documents().items():
        path = folder / name
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_schemas(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR):
        print(path)

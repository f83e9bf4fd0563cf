"""docs/integration.md stays true: its mapping is the one the demo and tests use, its example
sources are valid box.toml, and every command and config key it should describe is there."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from edge.cli import edge
from edge.config import BoxConfig
from edge.integration import Mapping, ReconcileSection, SourceSection
from edge.integration.mapping import FieldColumns
from hallwatch.exchange import MAPPING_FILE
from hub.cli import hub
from standard.catalogue_workbook import WorkbookMapping

REPO = Path(__file__).resolve().parents[2]
PAGE = (REPO / "docs" / "integration.md").read_text(encoding="utf-8")


def toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", PAGE, flags=re.S)


def test_the_complete_mapping_on_the_page_is_the_example_file():
    assert MAPPING_FILE.read_text(encoding="utf-8") in toml_blocks()
    Mapping.model_validate(tomllib.loads(MAPPING_FILE.read_text(encoding="utf-8")))


def test_the_source_examples_are_valid_box_toml():
    sources = [tomllib.loads(block)["sources"] for block in toml_blocks()
               if block.startswith("[[sources]]")]
    assert len(sources) == 2
    config = BoxConfig.model_validate({
        "version": 1, "base_dir": ".", "box_id": "440607-01", "district_code": "440607",
        "catalogue": "catalogue.json", "sources": [s[0] for s in sources]})
    assert [s.kind for s in config.sources] == ["database", "folder"]
    catalogue_mapping = next(b for b in toml_blocks() if "[columns]" in b)
    WorkbookMapping.model_validate(tomllib.loads(catalogue_mapping))


def test_commands_and_keys_are_described():
    for group, name in ((edge, "catalogue"), (edge, "sources"), (hub, "catalogue")):
        for sub, command in group.commands[name].commands.items():
            assert f"hallwatch {group.name} {name} {sub}" in PAGE and command.help
    for model in (SourceSection, ReconcileSection, Mapping, FieldColumns, WorkbookMapping):
        for key in model.model_fields:
            assert key in PAGE, f"docs/integration.md does not describe {model.__name__}.{key}"
    assert "/api/v1/platform/reconciliation" in PAGE

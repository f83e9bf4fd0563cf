"""Loading the item catalogue (事项目录) file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from standard.configfile import describe_errors
from standard.records import Catalogue, CatalogueItem


class CatalogueError(Exception):
    """The catalogue file is missing or invalid."""


def load_catalogue(path: Path) -> dict[str, CatalogueItem]:
    """Read ``{"version": 1, "items": [...]}`` and index it by item code.

    >>> items = load_catalogue(Path("docs/standard/examples/catalogue.json"))
    >>> sorted(items)[:1]
    ['440605-FGJ-010']
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read the catalogue: {exc.strerror}") from None
    try:
        return Catalogue.model_validate_json(text, strict=True).by_code()
    except ValidationError as exc:
        problems = "\n  ".join(describe_errors(exc))
        raise CatalogueError(f"{path}: invalid catalogue:\n  {problems}") from None


def departments(catalogue: Mapping[str, CatalogueItem]) -> dict[str, str]:
    """Every department the catalogue names, full code → name: each item's department and the
    participating departments of its joint items (联办件), which may lead no item themselves
    but answer for their own shares (users, scopes and windows are checked against this).

    >>> items = load_catalogue(Path("docs/standard/examples/catalogue.json"))
    >>> departments(items)["440605JTJ"]
    '交通运输局'
    """
    names = {item.dept_code: item.dept_name for item in catalogue.values()}
    for item in catalogue.values():
        for joint in item.joint_depts:
            names.setdefault(joint.dept_code, joint.dept_name)
    return names

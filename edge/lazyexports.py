"""A capability package's public names, imported from their modules on first use (PEP 562).

A package's ``__init__`` names what the rest of the box may use; importing every module behind
those names made any use of one of them (``edge.config`` reads ``edge.integration.config``)
load them all: SQLAlchemy, numpy and the rule engine for ``hallwatch edge status``. With::

    __all__, __getattr__, __dir__ = lazy_exports(__name__, {
        "edge.integration.config": ["ReconcileSection", "SourceSection"], ...})

``from edge.integration import SourceSection`` imports ``edge.integration.config`` only, and
``edge.integration.wiring`` (a submodule as an attribute) still works as before.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, list[str]]
                 ) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for ``package``: module -> its names."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:  # a submodule, as ``import package`` then ``package.mod`` gave it
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # once: the next lookup is a plain one
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return sorted(where), __getattr__, __dir__

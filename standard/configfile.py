"""Loading TOML configuration into pydantic models, with errors a technician can act on."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    """A configuration file is missing, unreadable or invalid."""


class Section(BaseModel):
    """Base for config sections: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def describe_errors(error: ValidationError) -> list[str]:
    """One line per problem: ``field.path: message``."""
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling)"
        lines.append(f"{where}: {message}")
    return lines


def load_toml(path: Path, model: type[M]) -> M:
    """Read ``path`` as TOML and validate it as ``model``.

    Relative paths inside the file are the model's business; the file's folder is passed
    to the model as ``base_dir`` when the model has such a field.
    """
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if "base_dir" in model.model_fields:
        raw["base_dir"] = str(Path(path).resolve().parent)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "\n  ".join(describe_errors(exc))
        raise ConfigError(f"{path}: invalid configuration:\n  {problems}") from None

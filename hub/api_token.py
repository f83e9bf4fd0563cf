"""The bearer token of the 12345 hotline system's API (``POST /api/v1/complaints``).

One token, kept in a file next to the hub's keys (``keys/12345-api.token``, mode 0600 in a
0700 folder, standard/files.py). ``provision hub-init`` writes the first one and
``hallwatch hub token`` writes a new one (the old one stops working at once: the file is read
on every call, so no restart is needed). The deployer gives the file's content to the 12345
system, which sends ``Authorization: Bearer <token>``.

Example::

    path = token_path(config)
    new_token(path)                     # 43 URL-safe characters, 256 bits
    token_matches(path, "Bearer …")     # constant-time comparison
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from hub.config import HubConfig
from standard.files import private_dir, write_private

TOKEN_FILE = "12345-api.token"


class TokenMissing(RuntimeError):
    """No token file: the 12345 API refuses every call until ``hallwatch hub token`` runs."""


def token_path(config: HubConfig) -> Path:
    """Where the token lives: beside the hub's identity (``keys/``)."""
    return config.path(config.identity).parent / TOKEN_FILE


def new_token(path: Path) -> str:
    """Write a new random token to ``path`` (0600, atomically) and return it."""
    token = secrets.token_urlsafe(32)
    private_dir(path.parent)
    write_private(path, (token + "\n").encode("ascii"))
    return token


def token_matches(path: Path, header: str) -> bool:
    """True when ``header`` is ``Bearer <the token in path>``; TokenMissing without a file."""
    try:
        expected = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise TokenMissing(str(path)) from None
    scheme, _, presented = (header or "").partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode("utf-8", "replace"), expected.encode("ascii"))

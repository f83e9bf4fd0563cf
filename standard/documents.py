"""Write the standard's published documents: every JSON Schema and the OpenAPI document.

``make schema`` runs this; tests compare the files under docs/standard/ with what it writes.

Example::

    python -m standard.documents            # into docs/standard/
    python -m standard.documents /tmp/out   # elsewhere
"""

from __future__ import annotations

import sys
from pathlib import Path

from standard.openapi import openapi_document
from standard.schema import DEFAULT_DIR, render, schema_documents


def write_documents(folder: Path = DEFAULT_DIR) -> list[Path]:
    """Write every schema and ``openapi.json`` into ``folder``; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in {**schema_documents(), "openapi.json": openapi_document()}.items():
        path = folder / name
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_documents(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR):
        print(path)

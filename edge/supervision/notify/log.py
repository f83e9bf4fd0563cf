"""A notifier that appends each message as one JSON line to a log file.

Useful on its own (a record of every notice sent) and as the always-on fallback next to SMS.

Example::

    LogNotifier(Path("data/notifications.log")).send(message)
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from edge.supervision.notify import Message, NotifyError
from standard.files import open_private


class LogNotifier:
    name = "log"
    needs_phone = False

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        line = json.dumps(message.as_json(), ensure_ascii=False) + "\n"
        try:
            with self._lock, open_private(self.path, "a") as out:  # 0600, names and phones
                out.write(line)
                out.flush()
                os.fsync(out.fileno())  # "sent" must mean on disk
        except OSError as exc:
            raise NotifyError(f"cannot write {self.path}: {exc.strerror}") from None

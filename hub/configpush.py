"""Which config documents (``hub publish``) each connected box holds, and pushing newer ones.

The receiver (hub/receiver.py) tells it of each hello (what the box says it holds), each
config ack, and once a second of the latest documents for each connected box; each document
newer than a box holds is sent once per session, and offered again at the box's next hello.

Example::

    configs = ConfigPush(store, receiver.send_to)
    configs.hello("440605-01", {"catalogue": 3})
    configs.push("440605-01", store.latest_configs())
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from standard import wire

log = logging.getLogger(__name__)


class ConfigPush:
    def __init__(self, store, send_to: Callable[[str, list[bytes]], None]):
        self.store = store
        self.send_to = send_to
        self._held: dict[str, dict[str, int]] = {}  # box_id -> kind -> doc_version
        self._sent: dict[tuple[str, str], int] = {}  # (box_id, kind) -> doc_version

    def hello(self, box_id: str, known) -> None:
        """A new session: what the box holds; offer again what it refused."""
        known = known if isinstance(known, dict) else {}
        self._held[box_id] = {k: v for k, v in known.items() if isinstance(v, int)}
        for key in [key for key in self._sent if key[0] == box_id]:
            del self._sent[key]
        self.push(box_id, self.store.latest_configs())

    def push(self, box_id: str, configs: dict[str, dict]) -> None:
        """Queue each document newer than the box holds, once per document and session."""
        held = self._held.get(box_id)
        if held is None:  # no hello since the hub started: go by the box's last answers
            held = self._held[box_id] = {
                kind: state["doc_version"]
                for kind, state in self.store.config_states().get(box_id, {}).items()
                if state["ok"]}
        for kind, doc in configs.items():
            version = doc["doc_version"]
            if held.get(kind, 0) < version and self._sent.get((box_id, kind)) != version:
                self._sent[(box_id, kind)] = version
                self.send_to(box_id, [wire.CONFIG, json.dumps(doc, ensure_ascii=False).encode()])

    def acked(self, box_id: str, body: dict) -> None:
        """The box's answer to a pushed document: stored, and what it now holds."""
        self.store.config_acked(box_id, body)
        if body.get("ok") and isinstance(body.get("doc_version"), int):
            self._held.setdefault(box_id, {})[str(body.get("kind"))] = body["doc_version"]
        elif not body.get("ok"):
            log.error("box %s refused config %s v%s: %s", box_id, body.get("kind"),
                      body.get("doc_version"), body.get("error"))

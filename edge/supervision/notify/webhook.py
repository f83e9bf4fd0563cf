"""A notifier that POSTs each message as JSON to an HTTP endpoint, retrying briefly.

The body is ``Message.as_json()`` (with a ``version`` field); the ``Idempotency-Key`` header is
``<box_id>:<notification id>`` so a receiver can drop the duplicates that retries may cause.
Connection errors, 429 and 5xx are retried ``attempts`` times with a short backoff; then the
delivery queue takes over with its own longer backoff.

Example::

    WebhookNotifier("http://10.0.0.5/hooks/alerts", box_id="440605-01").send(message)
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from edge.supervision.notify import Message, NotifyError


class WebhookNotifier:
    name = "webhook"
    needs_phone = False

    def __init__(self, url: str, *, box_id: str, timeout: float = 5.0, attempts: int = 3,
                 backoff: float = 1.0, sleep: Callable[[float], None] = time.sleep):
        self.url = url
        self.box_id = box_id
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep

    def send(self, message: Message) -> None:
        body = json.dumps(message.as_json(), ensure_ascii=False).encode("utf-8")
        error = ""
        for attempt in range(1, self.attempts + 1):
            retry, error = self._post(body, message.id)
            if not error:
                return
            if not retry:
                break
            if attempt < self.attempts:
                self.sleep(self.backoff * 2 ** (attempt - 1))
        raise NotifyError(f"webhook {self.url}: {error}")

    def _post(self, body: bytes, message_id: int) -> tuple[bool, str]:
        """(worth retrying, error text or "" on success)."""
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": f"{self.box_id}:{message_id}",
            "User-Agent": "hallwatch-box"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
                return False, ""
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code == 429 or exc.code >= 500, f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return True, f"cannot connect: {reason}"

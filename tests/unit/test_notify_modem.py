"""Notifiers: SMS against a simulated modem on a pseudo-terminal, a webhook against a real local
HTTP server, the log file, and the durable delivery queue with retry and a visible failure.

No sleeps: modem timeouts are short real timeouts, and threads are awaited on events.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from edge.store import Store
from edge.supervision.alerts import SUPERVISION_SCHEMA, Finding, open_alert
from edge.supervision.config import NotifySection, SmsSection, WebhookSection
from edge.supervision.notify import Contact, ContactBook, Message, NotificationQueue, NotifyError
from edge.supervision.notify.fakemodem import FakeModem
from edge.supervision.notify.log import LogNotifier
from edge.supervision.notify.modem import ModemNotifier, split_sms, ucs2_hex
from edge.supervision.notify.webhook import WebhookNotifier
from edge.supervision.notify.worker import DeliveryService, DeliveryWorker, RetryPolicy
from edge.supervision.wiring import make_notifiers

NOW = dt.datetime(2026, 11, 6, 1, 0, tzinfo=dt.timezone.utc)
TEXT = "【南海区电子监察】区市场监督管理局：办件C1已亮红灯，请于2026年11月11日前办结。"


def message(text: str = TEXT, phone: str | None = "13800138000") -> Message:
    return Message(1, "sms", 7, None, "440605SCJ", "李敏", phone, text, "2026-11-06T01:00:00Z")


@pytest.fixture
def modem():
    with FakeModem() as fake:
        yield fake


# -- the modem ------------------------------------------------------------------------------
def test_sms_goes_out_in_ucs2_text_mode(modem):
    ModemNotifier(modem.port, command_timeout=5).send(message())
    assert modem.messages[0].number == "13800138000"
    assert modem.messages[0].text == TEXT
    assert modem.commands[:5] == ["AT", "ATE0", "AT+CMGF=1", 'AT+CSCS="UCS2"', "AT+CSMP=17,167,0,8"]
    assert modem.commands[5] == f'AT+CMGS="{ucs2_hex("13800138000")}"'


def test_a_long_message_goes_as_numbered_parts(modem):
    text = "办" * 100
    ModemNotifier(modem.port).send(message(text))
    assert [sms.text[:5] for sms in modem.messages] == ["(1/2)", "(2/2)"]
    assert "".join(sms.text[5:] for sms in modem.messages) == text
    assert all(len(sms.text) <= 70 for sms in modem.messages)
    assert split_sms("短信") == ["短信"]


@pytest.mark.parametrize(("mode", "error"), [
    ("error", "modem answered ERROR to AT"),
    ("error_on_send", r"modem answered \+CMS ERROR: 500 to the message text"),
])
def test_modem_errors_fail_the_delivery(modem, mode, error):
    modem.mode = mode
    with pytest.raises(NotifyError, match=error):
        ModemNotifier(modem.port).send(message())
    assert modem.messages == []


def test_a_modem_that_never_answers_times_out(modem):
    modem.mode = "silent"
    with pytest.raises(NotifyError, match="did not answer AT within 0.3 s"):
        ModemNotifier(modem.port, command_timeout=0.3).send(message())


def test_no_port_or_no_phone_is_a_notify_error(tmp_path):
    with pytest.raises(NotifyError, match="cannot open modem port"):
        ModemNotifier(str(tmp_path / "ttyUSB9")).send(message())
    with pytest.raises(NotifyError, match="no phone number"):
        ModemNotifier("/dev/null").send(message(phone=None))


# -- the durable queue and its worker ------------------------------------------------------
@pytest.fixture
def store(tmp_path):
    made = Store(tmp_path / "box.db", box_id="440605-01", clock=lambda: NOW)
    made.extra_schema.append(SUPERVISION_SCHEMA)
    made.open()
    yield made
    made.close()


def queue_card(store: Store, channels, contacts=(Contact("440605SCJ", "李敏", "13800138000"),)):
    """A red alert and its notification, in one transaction (as the rule pass does)."""
    queue = NotificationQueue(ContactBook(contacts), channels)

    def apply(tx):
        alert_id = open_alert(tx, Finding("case:C1", "超期", "red", "已超过承诺时限1个工作日",
                                          "C1", "440605SCJ"), NOW)
        return queue.add(tx, alert_id=alert_id, dept_code="440605SCJ", text=TEXT, at=NOW)

    return store.write(apply)


def device_alert(store: Store, name: str = "sms") -> dict | None:
    rows = store.query("select * from alerts where subject = ?", (f"device:notifier:{name}",))
    return rows[0] if rows else None


def test_failed_sms_retries_with_backoff_and_shows_a_device_alert(store, modem):
    sms = ModemNotifier(modem.port, command_timeout=0.3)
    clock = [NOW]
    worker = DeliveryWorker(store, sms, clock=lambda: clock[0], policy=RetryPolicy(30, 3600, 5))
    assert queue_card(store, [sms]) == 1
    modem.mode = "silent"
    assert worker.run_once(NOW) == (0, 1)
    (row,) = store.query("select * from notifications")
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert "did not answer AT" in row["last_error"]
    assert row["next_attempt_at"] == "2026-11-06T01:00:30.000+00:00"
    failure = device_alert(store)
    assert (failure["state"], failure["level"], failure["rule"]) == ("open", "red", "通知发送失败")
    # The case alert was committed all along.
    assert store.query("select state from alerts where subject = 'case:C1'") == [{"state": "open"}]

    modem.mode = "ok"
    assert worker.run_once(NOW + dt.timedelta(seconds=29)) == (0, 0)     # still backing off
    clock[0] = NOW + dt.timedelta(seconds=31)
    assert worker.run_once(clock[0]) == (1, 0)
    assert modem.messages[0].text == TEXT
    (row,) = store.query("select * from notifications")
    assert (row["state"], row["attempts"], row["last_error"]) == ("sent", 2, None)
    assert device_alert(store)["state"] == "resolved"
    sent = [json.loads(r["body"])["body"] for r in store.query(
        "select body from outbox where kind = 'notification' order by seq")]
    assert [body["state"] for body in sent] == ["pending", "sent"]


def test_a_notification_that_keeps_failing_is_marked_failed(store, modem):
    modem.mode = "error"
    sms = ModemNotifier(modem.port)
    worker = DeliveryWorker(store, sms, clock=lambda: NOW, policy=RetryPolicy(1, 10, 2))
    queue_card(store, [sms])
    worker.run_once(NOW)
    worker.run_once(NOW + dt.timedelta(seconds=5))
    (row,) = store.query("select state, attempts from notifications")
    assert row == {"state": "failed", "attempts": 2}
    assert RetryPolicy(30, 3600).delay(1) == 30 and RetryPolicy(30, 3600).delay(20) == 3600


def test_a_department_without_contact_gets_no_sms_and_a_visible_alert(store, tmp_path):
    log = LogNotifier(tmp_path / "n.log")
    sms = ModemNotifier("/dev/null")
    assert queue_card(store, [log, sms], contacts=()) == 1               # the log only
    (missing,) = store.query("select * from alerts where rule = '联系人缺失'")
    assert missing["subject"] == "config:contact:440605SCJ" and missing["level"] == "yellow"


def test_delivery_thread_sends_after_wake(store, modem, tmp_path):
    log = LogNotifier(tmp_path / "notifications.log")
    service = DeliveryService(store, [log, ModemNotifier(modem.port)], clock=lambda: NOW,
                              policy=RetryPolicy())
    service.start()
    try:
        queue_card(store, [log, service.workers[1].notifier])
        service.wake()
        assert modem.wait_for_messages(1, timeout=10)
    finally:
        service.stop()
    line = json.loads((tmp_path / "notifications.log").read_text(encoding="utf-8"))
    assert line["version"] == 1 and line["text"] == TEXT and line["contact"]["name"] == "李敏"


# -- the webhook ----------------------------------------------------------------------------
class Hook:
    """A local HTTP endpoint answering with the given status codes in turn."""

    def __init__(self, statuses: list[int]):
        self.statuses = statuses
        self.requests: list[tuple[dict, dict]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.requests.append((dict(self.headers), body))
                status = hook.statuses[min(len(hook.requests), len(hook.statuses)) - 1]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hook:
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_webhook_retries_a_server_error_then_delivers():
    waits = []
    with Hook([500, 200]) as hook:
        WebhookNotifier(hook.url, box_id="440605-01", sleep=waits.append).send(message())
    assert len(hook.requests) == 2 and waits == [1.0]
    headers, body = hook.requests[1]
    assert headers["Idempotency-Key"] == "440605-01:1"
    assert body["version"] == 1 and body["text"] == TEXT and body["alert_id"] == 7


def test_webhook_gives_up_after_its_attempts_and_never_retries_a_client_error():
    with Hook([503]) as hook:
        with pytest.raises(NotifyError, match="HTTP 503"):
            WebhookNotifier(hook.url, box_id="b", attempts=3, sleep=lambda s: None).send(message())
        assert len(hook.requests) == 3
    with Hook([400]) as hook:
        with pytest.raises(NotifyError, match="HTTP 400"):
            WebhookNotifier(hook.url, box_id="b", sleep=lambda s: None).send(message())
        assert len(hook.requests) == 1


def test_webhook_through_the_queue(store):
    with Hook([200]) as hook:
        webhook = WebhookNotifier(hook.url, box_id="b", sleep=lambda s: None)
        queue_card(store, [webhook])
        assert DeliveryWorker(store, webhook, clock=lambda: NOW,
                              policy=RetryPolicy()).run_once(NOW) == (1, 0)
    assert hook.requests[0][1]["contact"] == {"name": "李敏", "phone": "13800138000"}


def test_notifiers_from_config(tmp_path):
    section = NotifySection(webhook=WebhookSection(url="http://127.0.0.1:9/h"),
                            sms=SmsSection(port="/dev/ttyUSB0"))
    names = [n.name for n in make_notifiers(section, box_id="b", data_dir=tmp_path)]
    assert names == ["log", "webhook", "sms"]
    assert make_notifiers(None, box_id="b", data_dir=tmp_path) == []
    log = make_notifiers(NotifySection(), box_id="b", data_dir=tmp_path)[0]
    assert log.path == Path(tmp_path) / "notifications.log"

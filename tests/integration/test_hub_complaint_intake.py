"""The hub's 12345 intake (``POST /api/v1/complaints``) judges each record on its own (issue 15),
against a real hub web server (waitress on 127.0.0.1), on SQLite and PostgreSQL.

- one bad record among good ones (a lone surrogate, bytes that are not UTF-8, 1,000 levels of
  nesting, a 5,000-digit number) is refused by its index with a Chinese reason naming the field
  and kept in ``complaint_quarantine`` (base64 when not UTF-8); the others are stored;
- NDJSON is split on ``\\n`` only (U+2028 inside a subject is no line break);
- a request is wholly committed or wholly refused (a store failure: 503 and nothing stored), a
  record that alone cannot be stored is refused alone, and the same body sent again is harmless;
- the size limits answer 400/413 with a message, never a 500;
- ``hub status`` and the complaints page (district-scoped) show the quarantined records.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from hallwatch.cli import main
from tests.hubkit import add_users, seeded_hub, sign_in
from web.hub import create_app
from web.hub.server import WebServer

PATH = "/api/v1/complaints"


@pytest.fixture(scope="module")
def served(tmp_path_factory, hub_module_database):
    folder = tmp_path_factory.mktemp("hotline")
    dashboard = seeded_hub(folder, database=hub_module_database)
    passwords = add_users(dashboard)
    made = CliRunner().invoke(main, ["hub", "token", "--config", str(folder / "hub.toml"),
                                     "--show"])
    assert made.exit_code == 0, made.output
    server = WebServer(dashboard, "127.0.0.1", 0, threads=4)
    server.start()
    assert server.url, server.ready_lines
    try:
        yield Hub(dashboard, server.url, made.output.strip().splitlines()[-1], folder, passwords)
    finally:
        server.stop()
        dashboard.data.store.close()


class Hub:
    def __init__(self, dashboard, url, token, folder, passwords):
        self.dashboard, self.url, self.token = dashboard, url, token
        self.folder, self.passwords = folder, passwords

    @property
    def store(self):
        return self.dashboard.data.store

    def post(self, body: bytes) -> tuple[int, dict]:
        request = urllib.request.Request(self.url + PATH, data=body, method="POST", headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def counts(self) -> tuple[int, int]:
        """(complaints, quarantined records)."""
        return (self.store.query("select count(*) as n from complaints")[0]["n"],
                self.store.query("select count(*) as n from complaint_quarantine")[0]["n"])

    def quarantined(self, after: int) -> list[dict]:
        return self.store.query("select * from complaint_quarantine where id > ? order by id",
                                (after,))

    def last_quarantined_id(self) -> int:
        return self.store.query("select coalesce(max(id), 0) as n from complaint_quarantine"
                                )[0]["n"]


def ticket(number: str, **fields) -> dict:
    return {"version": 1, "ticket_no": number, "kind": "投诉", "subject": "窗口办理超时",
            "content": "市民来电反映企业设立登记超过承诺时限仍未办结。",
            "received_at": "2026-11-20T09:12:00+08:00", "district_code": "440605",
            "dept": "SCJ", "publish": False, **fields}


def text(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False)


def test_one_bad_record_among_good_ones_is_refused_alone_kept_and_a_retry_is_harmless(served):
    surrogate = text(ticket("HX-2", subject="SURROGATE")).replace("SURROGATE", "\\ud800x")
    not_utf8 = text(ticket("HX-3", subject="X")).encode().replace(b'"X"', b'"\xff\xfe"')
    deep = "[" * 1000 + "]" * 1000
    huge = text(ticket("HX-5")).replace('"version": 1', '"version": ' + "9" * 5000)
    body = b"[" + b", ".join([text(ticket("HX-1")).encode(), surrogate.encode(), not_utf8,
                              deep.encode(), huge.encode(), text(ticket("HX-6")).encode()]) + b"]"
    complaints, _ = served.counts()
    before = served.last_quarantined_id()
    status, answer = served.post(body)
    assert status == 200, answer
    assert [c["index"] for c in answer["created"]] == [0, 5]
    refused = {r["index"]: r["errors"][0] for r in answer["rejected"]}
    assert set(refused) == {1, 2, 3, 4} and answer["quarantined"] == 4
    assert "代理字符" in refused[1]["message"]  # the JSON parser's refusal: the whole record
    assert "不是 UTF-8" in refused[2]["message"]
    assert "嵌套过深" in refused[3]["message"]
    assert "数字过大" in refused[4]["message"]
    kept = {row["position"]: row for row in served.quarantined(before)}
    assert set(kept) == {1, 2, 3, 4}
    assert kept[2]["encoding"] == "base64" and base64.b64decode(kept[2]["raw"]) == not_utf8
    assert kept[3]["raw"] == deep and kept[4]["raw"] == huge
    assert kept[1]["ticket_no"] == "HX-2" and kept[1]["district_code"] == "440605"
    assert "代理字符" in kept[1]["reason"] and kept[1]["raw"] == surrogate
    assert served.counts()[0] == complaints + 2
    again_status, again = served.post(body)  # the 12345 system's retry of the same body
    assert again_status == 200 and again["accepted"] == 0 and again["duplicates"] == 2
    assert [d["tracking_no"] for d in again["duplicate"]] == \
        [c["tracking_no"] for c in answer["created"]]
    assert served.counts()[0] == complaints + 2


def test_ndjson_is_split_on_newline_only_and_a_conflict_is_quarantined(served):
    lines = [text(ticket("ND-1", subject="甲\u2028乙\u0085丙")), text(ticket("ND-2"))]
    status, answer = served.post(("\r\n".join(lines) + "\r\n").encode())
    assert status == 200 and answer["accepted"] == 2, answer
    subject = served.store.query("select subject from complaints where ticket_no = 'ND-1'")
    assert subject == [{"subject": "甲\u2028乙\u0085丙"}]
    before = served.last_quarantined_id()
    status, answer = served.post(text(ticket("ND-2", subject="另一个标题")).encode())
    assert status == 422 and answer["conflicts"] == 1 and answer["quarantined"] == 1
    (row,) = served.quarantined(before)
    assert "与已接收记录内容不同" in row["reason"] and row["ticket_no"] == "ND-2"


def test_nul_anywhere_is_kept_on_both_engines(served):
    """PostgreSQL's text cannot hold NUL: a field named "\x00", a NUL in a value and a raw NUL
    byte in a line are refused and kept (base64 when the raw form holds the NUL itself)."""
    before = served.last_quarantined_id()
    body = (text({**ticket("NUL-1"), "\x00": 1}) + "\n" + text(ticket("NUL-2", subject="a\x00b"))
            + "\n" + '{"ticket_no": "NUL-3\x00"}\n').encode()
    status, answer = served.post(body)
    assert status == 422 and answer["quarantined"] == 3, answer
    kept = served.quarantined(before)
    assert [row["position"] for row in kept] == [0, 1, 2]
    assert kept[2]["encoding"] == "base64"
    assert base64.b64decode(kept[2]["raw"]) == b'{"ticket_no": "NUL-3\x00"}'
    status, answer = served.post(b"\x00\x00")
    assert status == 400 and served.quarantined(before)[-1]["position"] == -1


def test_a_pretty_printed_object_is_one_record(served):
    status, answer = served.post(json.dumps(ticket("PP-1"), indent=2).encode())
    assert status == 200 and answer["accepted"] == 1


def test_limits_are_answered_400_or_413_with_a_message_never_500(served):
    complaints, quarantined = served.counts()
    for body, message in ((b"[]", "空数组"), (b"hello", "不是 JSON 数组或 NDJSON"),
                          (b"\xff\xfe\x00", "不是 JSON 数组或 NDJSON"),
                          (b'[{"a": 1} x', "不是有效的 JSON")):
        status, answer = served.post(body)
        assert status == 400 and message in answer["error"] and "隔离区" in answer["error"]
    assert served.counts() == (complaints, quarantined + 4)  # each body kept whole
    many = "\n".join(text(ticket(f"MANY-{n}")) for n in range(501)).encode()
    status, answer = served.post(many)
    assert status == 413 and "最多提交 500 件" in answer["error"]
    status, answer = served.post(b"[" + b" " * (1024 * 1024) + b"]")
    assert status == 413 and "1 MiB" in answer["error"]
    assert served.counts() == (complaints, quarantined + 4)


def _trigger(served, name: str, table: str, condition: str | None) -> None:
    when = f" when {condition}" if condition else ""
    ddl = (f"create trigger if not exists {name} before insert on {table}{when} "
           f"begin select raise(abort, 'refused by the test'); end;")
    engine = served.store.engine
    with engine.transaction() as conn:
        engine.script(conn, engine.dialect.ddl(ddl))


def _drop_trigger(served, name: str, table: str) -> None:
    engine = served.store.engine
    on = f" on {table}" if engine.name == "postgresql" else ""
    with engine.transaction() as conn:
        conn.execute(f"drop trigger if exists {name}{on}")


def test_a_request_is_wholly_committed_or_wholly_refused(served):
    body = json.dumps([ticket("WH-1"), ticket("WH-2", kind="x"), ticket("STORE-FAILS")]).encode()
    _trigger(served, "test_one_record_fails", "complaints", "new.ticket_no = 'STORE-FAILS'")
    try:
        status, answer = served.post(body)  # the record that cannot be stored is refused alone
    finally:
        _drop_trigger(served, "test_one_record_fails", "complaints")
    assert status == 200 and [c["index"] for c in answer["created"]] == [0], answer
    assert {r["index"] for r in answer["rejected"]} == {1, 2}
    stored = {r["index"]: r["errors"][0]["message"] for r in answer["rejected"]}
    assert "记录无法存储" in stored[2]
    complaints, quarantined = served.counts()
    body = json.dumps([ticket("WH-3"), ticket("WH-4", kind="x")]).encode()
    _trigger(served, "test_quarantine_fails", "complaint_quarantine", None)
    try:
        status, answer = served.post(body)  # the store fails: nothing of the request is kept
    finally:
        _drop_trigger(served, "test_quarantine_fails", "complaint_quarantine")
    assert status == 503 and "原样重发" in answer["error"]
    assert served.counts() == (complaints, quarantined)
    status, answer = served.post(body)
    assert status == 200 and answer["accepted"] == 1 and answer["quarantined"] == 1
    assert served.counts() == (complaints + 1, quarantined + 1)


def test_operators_see_the_quarantine_in_hub_status_and_on_the_complaints_page(served):
    served.post(json.dumps([ticket("SEEN-1", kind="x"),
                            ticket("SEEN-2", kind="x", district_code="440606")]).encode())
    shown = CliRunner().invoke(main, ["hub", "status", "--config",
                                      str(served.folder / "hub.toml")])
    assert shown.exit_code == 0, shown.output
    assert "12345 records in quarantine" in shown.output and "SEEN-2" in shown.output
    app = create_app(served.dashboard, {"TESTING": True}, announce=lambda *first: None)
    nanhai = sign_in(app, "nanhai", served.passwords["nanhai"]).client.get("/complaints")
    page = nanhai.get_data(as_text=True)
    assert "12345接口未登记的记录" in page and "SEEN-1" in page and "SEEN-2" not in page
    city = sign_in(app, "chief", served.passwords["chief"]).client.get("/complaints")
    assert "SEEN-1" in city.get_data(as_text=True) and "SEEN-2" in city.get_data(as_text=True)
    scj = sign_in(app, "scj", served.passwords["scj"]).client.get("/complaints")
    assert "12345接口未登记的记录" not in scj.get_data(as_text=True)


def test_a_conflicting_ticket_opens_a_data_quality_alert_that_a_supervisor_clears(served):
    """As the box does for a re-sent event_id (数据冲突), a ticket re-sent with other content
    is not only quarantined: the city and that district see an alert on the overview and the
    complaints page, until a supervisor marks it 已核对; the next conflict opens it again."""
    def alert_rows() -> list[dict]:
        return served.store.query("select * from hotline_alerts where district_code = '440606'")

    assert served.post(text(ticket("DQ-1", district_code="440606")).encode())[0] == 200
    status, again = served.post(text(ticket("DQ-1", district_code="440606")).encode())
    assert status == 200 and again["duplicates"] == 1 and alert_rows() == []  # a retry: fine
    status, answer = served.post(text(ticket("DQ-1", district_code="440606",
                                             subject="窗口态度差")).encode())
    assert status == 422 and answer["conflicts"] == 1
    (row,) = alert_rows()
    assert (row["rule"], row["state"], row["conflicts"]) == ("数据冲突", "open", 1)
    tracking = served.store.query("select tracking_no from complaints where ticket_no = 'DQ-1'"
                                  )[0]["tracking_no"]
    shown = CliRunner().invoke(main, ["hub", "status", "--config",
                                      str(served.folder / "hub.toml")])
    assert "12345 data conflict alert open (440606)" in shown.output and "DQ-1" in shown.output

    app = create_app(served.dashboard, {"TESTING": True}, announce=lambda *first: None)
    shunde = sign_in(app, "shunde", served.passwords["shunde"])
    for path in ("/", "/complaints"):
        page = shunde.client.get(path).get_data(as_text=True)
        assert "12345热线系统数据冲突" in page and "DQ-1" in page and tracking in page, path
    city = sign_in(app, "chief", served.passwords["chief"]).client.get("/").get_data(as_text=True)
    assert "DQ-1" in city
    nanhai = sign_in(app, "nanhai", served.passwords["nanhai"]).client.get("/complaints")
    assert "DQ-1" not in nanhai.get_data(as_text=True)  # another district's
    scj = sign_in(app, "scj", served.passwords["scj"]).client.get("/").get_data(as_text=True)
    assert "12345热线系统数据冲突" not in scj

    done = shunde.client.post(f"/complaints/data-alerts/{row['id']}/resolve",
                              data={"csrf_token": shunde.csrf}, follow_redirects=True)
    assert "已核对，数据冲突预警已消除" in done.get_data(as_text=True)
    assert "DQ-1" not in shunde.client.get("/").get_data(as_text=True)
    (row,) = alert_rows()
    assert row["state"] == "resolved" and "shunde" in row["resolved_by"]
    again = shunde.client.post(f"/complaints/data-alerts/{row['id']}/resolve",
                               data={"csrf_token": shunde.csrf}, follow_redirects=True)
    assert "待核对数据冲突预警" in again.get_data(as_text=True)  # nothing left to clear

    served.post(text(ticket("DQ-1", district_code="440606", content="又一次不同")).encode())
    (row,) = alert_rows()
    assert (row["state"], row["conflicts"]) == ("open", 1)  # opened again, counted afresh
    assert "DQ-1" in shunde.client.get("/complaints").get_data(as_text=True)

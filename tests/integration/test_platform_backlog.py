"""A platform's backlog cannot take the box's web server away from the hall (issue 22).

The server is the real one (``edge.app.make_server``, waitress on 127.0.0.1, as ``edge serve``
builds it), in this process so that the test can hold every platform request on its own thread
where it hands its records to the store's writer (``Store.submit(..., bulk=True)``): they are
then stuck, as under a backlog, until the test releases them, while the writer stays free for
people's writes (a sign-in form's session, a rating). Nothing here is timed: the pages and the
ratings API must answer while the platform's requests are held.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import sqlite3
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, replace

import pytest

from edge.app import build_box, make_server
from edge.board import HallBoard
from edge.config import load_box_config
from edge.ingest import ingest_texts
from tests.boxes import write_box_folder
from web.userstore import UserStore

PASSWORD = "manager-password-1"
WAIT = 30  # seconds: only a broken box waits this long


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict


@dataclass
class Served:
    box: object
    url: str
    hold: threading.Event  # cleared: every ingest transaction waits in the writer
    held: threading.Event  # set once the writer is holding one


@pytest.fixture
def served(tmp_path, monkeypatch) -> Iterator[Served]:
    box = build_box(load_box_config(write_box_folder(tmp_path)))
    hold, held = threading.Event(), threading.Event()
    hold.set()
    submit = box.store.submit

    def holding(fn, *, bulk=False):
        if bulk and not hold.is_set():  # a platform request handing over its records
            held.set()
            hold.wait(WAIT * 4)  # released by the test long before
        return submit(fn, bulk=bulk)

    monkeypatch.setattr(box.store, "submit", holding)
    box.start()
    server = make_server(box)
    UserStore(box.store).add("wangfang", "王芳", "manager", password=PASSWORD,
                             must_change=False)

    def run() -> None:
        try:
            server.run()
        except (OSError, ValueError):  # select() on the sockets close() just closed
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield Served(box, f"http://127.0.0.1:{server.effective_port}", hold, held)
    finally:
        hold.set()
        server.task_dispatcher.shutdown()
        server.close()
        thread.join(10)
        box.stop()


def events_body(post: int, count: int = 3) -> bytes:
    return "\n".join(json.dumps({
        "event_id": f"B{post:03d}-{n}", "case_no": f"NH-B{post:03d}-{n}",
        "item_code": "440605-SCJ-002", "dept_code": "440605SCJ", "district_code": "440605",
        "event_type": "受理", "occurred_at": "2026-11-23T09:00:00+08:00",
        "actor": {"id": "S001", "name": "李敏"}},
        ensure_ascii=False) for n in range(count)).encode()


def post_events(served: Served, post: int) -> Answer:
    request = urllib.request.Request(
        f"{served.url}/api/v1/platform/events", data=events_body(post), method="POST",
        headers={"Authorization": f"Bearer {served.box.platform_token}",
                 "Content-Type": "application/x-ndjson"})
    try:
        with urllib.request.urlopen(request, timeout=WAIT * 2) as response:
            return Answer(response.status, dict(response.headers), json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, dict(exc.headers), json.loads(exc.read()))


@dataclass
class Backlog:
    held: dict[int, Future]  # post number -> its answer, still to come
    refused: dict[int, Answer]  # post number -> its 503


@contextmanager
def backlog_held(served: Served) -> Iterator[Backlog]:
    """More platform posts at once than the server has threads, with the writer held.

    Yields once the box has answered every post it will not hold; the others are in the box,
    unanswered, until the block ends (then the writer is released and they are answered).
    """
    web, load = served.box.config.web, served.box.intake.load()
    posts = web.threads + 4
    served.hold.clear()
    with ThreadPoolExecutor(max_workers=posts) as pool:
        futures = {pool.submit(post_events, served, n): n for n in range(posts)}
        refused: dict[int, Answer] = {}
        try:
            # On a box without a bounded ingest queue nothing is ever answered here: every
            # server thread is held by a platform request and the rest wait for a thread.
            for future in as_completed(futures, timeout=WAIT):
                refused[futures[future]] = future.result()
                if len(refused) == posts - load.capacity:
                    break
            assert served.held.wait(WAIT), "no platform request reached the store"
            yield Backlog({n: f for f, n in futures.items() if n not in refused}, refused)
        finally:
            served.hold.set()


def stored_event_ids(served: Served) -> set[str]:
    with sqlite3.connect(f"file:{served.box.store.path}?mode=ro", uri=True) as db:
        stored = {row[0] for row in db.execute("select event_id from case_events")}
        raws = [row[0] for row in db.execute("select raw from quarantine")]
    assert not raws, "a held or refused post was quarantined"
    return stored


def relayed_event_ids(served: Served) -> list[str]:
    """The event ids of the outbox's case_event records, one per record sent to the hub."""
    with sqlite3.connect(f"file:{served.box.store.path}?mode=ro", uri=True) as db:
        return sorted(row[0] for row in db.execute(
            "select json_extract(body, '$.body.event_id') from outbox_records"
            " where kind = 'case_event'"))


def sign_in(served: Served) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{served.url}/login", timeout=WAIT).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    form = urllib.parse.urlencode({"username": "wangfang", "password": PASSWORD,
                                   "csrf_token": csrf}).encode()
    assert opener.open(f"{served.url}/login", data=form, timeout=WAIT).url.endswith("/")
    return opener


def rate(served: Served) -> Answer:
    body = json.dumps({"evaluation_id": "QR-1", "channel": "二维码", "case_no": "NH-B000-0",
                       "level": 5, "rated_at": "2026-11-23T09:30:00+08:00"}).encode()
    request = urllib.request.Request(
        f"{served.url}/api/v1/evaluations", data=body, method="POST",
        headers={"Authorization": f"Bearer {served.box.platform_token}",
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        return Answer(response.status, dict(response.headers), json.loads(response.read()))


def test_pages_answer_while_every_platform_request_is_held(served):
    with backlog_held(served) as backlog:
        login = urllib.request.urlopen(f"{served.url}/login", timeout=WAIT)
        assert login.status == 200 and "登录" in login.read().decode()
        manager = sign_in(served)
        board = json.loads(manager.open(f"{served.url}/board.json", timeout=WAIT).read())
        assert board["version"] == 1 and "windows" in board["html"]
        rating = rate(served)
        assert (rating.status, rating.body["accepted"]) == (200, 1)
        # The pages answered while the platform's requests were still inside the box.
        assert not any(future.done() for future in backlog.held.values())
        load = served.box.intake.load()
        assert (load.running, load.waiting) == (load.workers, load.capacity - load.workers)
    answers = [future.result(timeout=WAIT) for future in backlog.held.values()]
    assert [a.status for a in answers] == [200] * len(answers)
    assert all(a.body["accepted"] == 3 for a in answers)


def test_a_full_queue_answers_503_with_retry_after_and_stores_nothing(served):
    with backlog_held(served) as backlog:
        refused = list(backlog.refused.items())
        assert refused and all(a.status == 503 for _, a in refused)
        for _, answer in refused:
            assert int(answer.headers["Retry-After"]) >= 1
            assert "未保存任何记录" in answer.body["error"]
    for future in backlog.held.values():
        assert future.result(timeout=WAIT).status == 200
    held_ids = {f"B{post:03d}-{n}" for post in backlog.held for n in range(3)}
    refused_ids = {f"B{post:03d}-{n}" for post, _ in refused for n in range(3)}
    assert stored_event_ids(served) == held_ids  # every held post kept, no refused one
    assert served.box.intake.load().refused == len(refused)
    # A 503 stored nothing, so sending the same body again is safe and complete.
    again = [post_events(served, post) for post, _ in refused]
    assert all(a.status == 200 and a.body["accepted"] == 3 for a in again)
    assert stored_event_ids(served) == held_ids | refused_ids
    # Exactly once: each event is one row and one record for the hub, however often it came.
    repeat = post_events(served, next(iter(backlog.held)))
    assert (repeat.status, repeat.body["accepted"], repeat.body["duplicates"]) == (200, 0, 3)
    assert relayed_event_ids(served) == sorted(held_ids | refused_ids)


def test_the_board_leaves_its_refresh_to_the_background_unless_it_falls_behind(tmp_path):
    """Under a backlog a page that refreshed the board would evaluate every case changed
    since; while the background refresher keeps up, pages show its latest snapshot."""
    box = build_box(load_box_config(write_box_folder(tmp_path)))
    box.store.open()
    hall = HallBoard(box.board, clock=box.clock, refresh_seconds=30)
    hall.start()  # its next pass is 30 s away: nothing moves under this test
    try:
        first = hall.snapshot()
        ingest_texts(box.store, [(0, events_body(1, count=1).decode())], source="test")
        hall._snapshot = replace(first, built_at=first.built_at - 40)  # one pass late
        assert "NH-B001-0" not in hall.snapshot().cases
        hall._snapshot = replace(first, built_at=first.built_at - 100)  # three passes late
        assert "NH-B001-0" in hall.snapshot().cases
    finally:
        hall.stop()
        box.store.close()

"""The platform's ingest queue: a bounded number of requests in the box, first come first served."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from edge.config import load_box_config
from edge.ingestqueue import IngestQueue, QueueFull, QueueLoad
from standard.configfile import ConfigError
from tests.boxes import write_box_folder
from tests.integration.relay_harness import wait_for

WAIT = 10


class Held:
    """Requests that take a turn and keep it until released, one by one."""

    def __init__(self, queue: IngestQueue):
        self.queue = queue
        self.pool = ThreadPoolExecutor(max_workers=8)
        self.inside: list[str] = []
        self.release: dict[str, threading.Event] = {}

    def arrive(self, name: str):
        self.release[name] = threading.Event()

        def request() -> str:
            with self.queue.turn():
                self.inside.append(name)
                self.release[name].wait(WAIT)
            return name

        return self.pool.submit(request)


def test_workers_ingest_at_once_the_waiting_wait_and_one_more_is_refused():
    queue = IngestQueue(workers=2, waiting=2)
    held = Held(queue)
    a = held.arrive("a")
    wait_for(lambda: held.inside == ["a"], WAIT, what="a inside")
    b = held.arrive("b")
    wait_for(lambda: held.inside == ["a", "b"], WAIT, what="b inside")
    c = held.arrive("c")
    wait_for(lambda: queue.load().waiting == 1, WAIT, what="c waiting")
    d = held.arrive("d")
    wait_for(lambda: queue.load().waiting == 2, WAIT, what="d waiting behind c")
    with pytest.raises(QueueFull) as refused:
        with queue.turn():
            pytest.fail("a fifth request was let in")
    assert refused.value.retry_after >= 1
    assert "未保存任何记录" in str(refused.value)
    assert queue.load().refused == 1
    held.release["a"].set()
    assert a.result(WAIT) == "a"
    wait_for(lambda: len(held.inside) == 3, WAIT, what="the first waiting request let in")
    assert held.inside[2] == "c"  # first come, first served
    for name in "bcd":
        held.release[name].set()
    assert [f.result(WAIT) for f in (b, c, d)] == ["b", "c", "d"]
    assert queue.load() == QueueLoad(running=0, waiting=0, refused=1, workers=2, capacity=4)


def test_a_request_without_a_turn_in_time_is_refused_and_leaves_the_line():
    queue = IngestQueue(workers=1, waiting=2, max_wait=0.05)
    held = Held(queue)
    first = held.arrive("first")
    wait_for(lambda: held.inside == ["first"], WAIT, what="the first request inside")
    with pytest.raises(QueueFull, match="no turn within"):
        with queue.turn():
            pytest.fail("let in while the only turn was held")
    assert queue.load().waiting == 0
    held.release["first"].set()
    first.result(WAIT)
    with queue.turn():  # the line is clear again
        pass


def test_retry_after_follows_how_long_a_turn_takes():
    now = [0.0]
    queue = IngestQueue(workers=1, waiting=0, clock=lambda: now[0])
    for _ in range(40):  # requests that take 8 s each
        with queue.turn():
            now[0] += 8.0
    with queue.turn():
        with pytest.raises(QueueFull) as refused:
            with queue.turn():
                pass
    assert refused.value.retry_after == 8


def test_web_config_keeps_threads_for_people(tmp_path):
    config = load_box_config(write_box_folder(tmp_path))
    assert (config.web.threads, config.web.ingest_queue) == (16, 6)
    with pytest.raises(ConfigError, match=r"web\.ingest_queue: .*at most 2 with threads = 7"):
        load_box_config(write_box_folder(tmp_path, web={"port": 0, "threads": 7}))
    with pytest.raises(ConfigError, match=r"web\.ingest_qeue: unknown key"):
        load_box_config(write_box_folder(tmp_path, web={"port": 0, "ingest_qeue": 2}))
    small = load_box_config(write_box_folder(tmp_path, web={"threads": 7, "ingest_queue": 2}))
    assert small.web.ingest_queue == 2

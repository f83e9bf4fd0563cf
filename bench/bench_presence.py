"""Benchmark: presence decisions per second and CPU share, for 1 and 4 cameras of 640x480.

Run from the repository root: ``python -m bench.bench_presence``. Prints figures and goals
only; nothing here asserts (timed assertions do not belong in tests).

Each camera watches 4 window regions. The clip is a 25 fps MPEG-4 file, like a camera's main
stream; every frame is decoded, and presence is decided for every region 5 times a second.

- "as fast as possible" runs the pipeline over the whole clip with no pacing: its CPU time
  per clip second is the CPU share a live camera would cost.
- "live" runs real ``CameraWorker`` threads on the file played at its own speed.

Goal: a decision for every region at 5 fps or better, under 25% of one core per camera.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import threading
import time
from pathlib import Path

import cv2

from edge.presence.camera import CameraPipeline, CameraWorker
from edge.presence.detector import HaarPersonDetector
from edge.presence.ports import LOCAL_TZ, MemorySink, Roi, WindowRegion
from edge.presence.sources import CaptureSource, FileSource, HallScene
from edge.presence.tracker import OfficeSchedule, TrackerSettings

SIZE = (640, 480)
REGIONS = [WindowRegion(no + 1, Roi(10 + no * 158, 120, 150, 220)) for no in range(4)]
CAMERA_FPS = 25
DECISION_FPS = 5.0
CLIP_SECONDS = 30
LIVE_SECONDS = 10
START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=LOCAL_TZ)
ALL_DAY = [(dt.time(0, 0), dt.time(23, 59, 59))]
GOAL_SHARE = 0.25


def face_sprite():
    """The astronaut photograph (scikit-image, a dev dependency), or None: checks still run."""
    try:
        from skimage import data
    except ImportError:
        return None
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    return photo[5:345, 95:375]


def make_clip(path: Path, busy: bool) -> Path:
    """Busy: curtains drifting and staff moving in every region, window 4 leaving every 10 s,
    so each region is checked about once a second (the worst case). Quiet: staff sitting still."""
    cv2.setRNGSeed(1)
    scene = HallScene(SIZE, REGIONS, sprite=face_sprite())
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), CAMERA_FPS, SIZE)
    for frame_no in range(CLIP_SECONDS * CAMERA_FPS):
        t = frame_no / CAMERA_FPS
        present = {1, 2, 3} | ({4} if not busy or (t % 20) < 10 else set())
        writer.write(
            scene.render(
                t, present=present, still=not busy, curtain=busy, flicker=busy, frame_no=frame_no
            )
        )
    writer.release()
    return path


def pipeline(sink: MemorySink) -> CameraPipeline:
    schedule = OfficeSchedule(ALL_DAY, lambda day: True)
    return CameraPipeline(
        REGIONS,
        sink,
        schedule,
        HaarPersonDetector(),
        tracker=TrackerSettings(absent_after=dt.timedelta(seconds=30)),
    )


def as_fast_as_possible(clip: Path, cameras: int) -> dict:
    """Every camera's pipeline over the whole clip, on a thread each, unpaced."""
    pipelines = [pipeline(MemorySink()) for _ in range(cameras)]
    counts = [0] * cameras

    def run(index: int) -> None:
        for at, frame in FileSource(clip, START, fps=DECISION_FPS).frames():
            pipelines[index].process(at, frame)
            counts[index] += 1

    threads = [threading.Thread(target=run, args=(index,)) for index in range(cameras)]
    wall, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "decisions_per_s": sum(counts) / cameras / wall,
        "share_per_camera": cpu / (cameras * CLIP_SECONDS),
        "checks_per_s": sum(p.checks_run for p in pipelines) / cameras / CLIP_SECONDS,
        "speed": CLIP_SECONDS / wall,
    }


def live(clip: Path, cameras: int) -> dict:
    """Real worker threads on the clip played at its own speed, for ``LIVE_SECONDS``."""
    origin = time.monotonic()

    def clock() -> dt.datetime:
        return START + dt.timedelta(seconds=time.monotonic() - origin)

    workers = []
    for index in range(cameras):
        sink = MemorySink()
        source = CaptureSource(str(clip), clock, fps=DECISION_FPS)
        workers.append(CameraWorker(f"cam-{index}", source, pipeline(sink), sink, clock))
    for worker in workers:
        worker.start()
    pause = threading.Event()  # never set: the waits below are the measurement itself
    pause.wait(1.0)  # steady state: the files are open and the first checks are done
    frames = sum(worker.frames_seen for worker in workers)
    wall, cpu = time.perf_counter(), time.process_time()
    pause.wait(LIVE_SECONDS)
    frames = sum(worker.frames_seen for worker in workers) - frames
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    for worker in workers:
        worker.stop(timeout=5)
    return {"decisions_per_s": frames / cameras / wall, "share_per_camera": cpu / wall / cameras}


def verdict(share: float, rate: float) -> str:
    # A frame more or less in the window is counting, not speed: allow 2% on the rate.
    met = share < GOAL_SHARE and rate >= 0.98 * DECISION_FPS
    return "meets the goal" if met else "MISSES the goal"


def main() -> None:
    photo = "yes" if face_sprite() is not None else "no (scikit-image missing)"
    print(
        f"presence: {SIZE[0]}x{SIZE[1]}, {len(REGIONS)} regions a camera, "
        f"{CAMERA_FPS} fps mp4v clip of {CLIP_SECONDS} s, decisions at {DECISION_FPS:g} fps; "
        f"face photograph: {photo}; {os.cpu_count()} cores"
    )
    print(
        f"goal: >= {DECISION_FPS:g} decisions/s for every region, "
        f"< {GOAL_SHARE:.0%} of one core per camera"
    )
    with tempfile.TemporaryDirectory() as folder:
        for busy, label in (
            (True, "busy hall (curtains, monitors, staff moving)"),
            (False, "quiet hall (staff sitting still)"),
        ):
            clip = make_clip(Path(folder) / f"{'busy' if busy else 'quiet'}.mp4", busy)
            print(f"\n{label}")
            for cameras in (1, 4):
                fast = as_fast_as_possible(clip, cameras)
                print(
                    f"  {cameras} camera(s), as fast as possible: "
                    f"{fast['decisions_per_s']:6.1f} decisions/s per camera "
                    f"({fast['speed']:.1f}x real time); CPU at real time "
                    f"{fast['share_per_camera']:6.1%} of a core per camera; "
                    f"{fast['checks_per_s']:.1f} person checks/s per camera"
                )
            for cameras in (1, 4):
                measured = live(clip, cameras)
                rate, share = measured["decisions_per_s"], measured["share_per_camera"]
                print(
                    f"  {cameras} camera(s), live for {LIVE_SECONDS} s: {rate:6.1f} decisions/s "
                    f"per camera, CPU {share:6.1%} of a core per camera: {verdict(share, rate)}"
                )


if __name__ == "__main__":
    main()

"""Summarise a py-spy ``--format raw`` profile: where each thread's samples go.

    py-spy record -r 200 --subprocesses -f raw -o /tmp/relay.txt -- python -m bench.bench_relay
    python -m bench.profile_summary /tmp/relay.txt [--top 15] [--only relay,hub-receiver]

Prints, per thread, the share of its samples spent inside each function (inclusive, so a
caller includes its callees) and the share spent in the function itself (self). Idle frames
(poll, wait, queue get) are counted, so a thread that mostly waits says so.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict

_THREAD = re.compile(r'^thread \((0x[0-9a-fA-F]+)\)$')


def parse(path: str) -> dict[str, list[tuple[list[str], int]]]:
    """thread label -> [(frames, samples)]; the label is the thread's outermost frame."""
    threads: dict[str, list[tuple[list[str], int]]] = defaultdict(list)
    with open(path, encoding="utf-8", errors="replace") as stream:
        text = stream.read()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or not stack:
            continue
        parts = stack.split(";")
        process = next((p.split(":")[0] for p in parts if p.startswith("process ")), "")
        frames = [f for f in parts if not f.startswith("process ") and not _THREAD.match(f)]
        label = f"{process} {_label(frames)}"
        threads[label].append(([_short(f) for f in frames], int(count)))
    return threads


def _short(frame: str) -> str:
    return re.sub(r"\s*\(([^)]*?)(?:/site-packages/|/lib/python3\.\d+/)?([^/)]*)\)$",
                  r" (\2)", frame)


def _label(frames: list[str]) -> str:
    """The thread's own function: the frame after ``Thread.run``, else the main thread."""
    for before, frame in zip(frames, frames[1:]):
        if before.startswith("Thread.run "):
            return "thread " + frame.split(":")[0] + ")"
    return "main thread"


def summary(threads, top: int) -> list[str]:
    out = []
    for label, stacks in sorted(threads.items(), key=lambda kv: -sum(n for _, n in kv[1])):
        total = sum(n for _, n in stacks)
        inclusive, own = Counter(), Counter()
        for frames, n in stacks:
            for name in set(frames):
                inclusive[name] += n
            if frames:
                own[frames[-1]] += n
        out.append(f"== {label}: {total} samples")
        out.append("   inclusive:")
        out += [f"   {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
        out.append("   self:")
        out += [f"   {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--min-samples", type=int, default=50)
    args = parser.parse_args()
    threads = {k: v for k, v in parse(args.profile).items()
               if sum(n for _, n in v) >= args.min_samples}
    print("\n".join(summary(threads, args.top)))


if __name__ == "__main__":
    main()

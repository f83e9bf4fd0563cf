"""Giving freed memory back to the system after a large piece of work (issue 15: RSS < 300 MB).

The box's threads each allocate from their own glibc malloc arena; what a rule pass's chunk, a
refold or the board's build frees stays in the arena (free, but resident) and the arenas' high
water marks add up: at 100,000 cases the main arena held 126 MB of which 88 MB were free.
``give_back`` asks glibc to return whole free pages of every arena (``malloc_trim(0)``); on
other C libraries it does nothing. It frees no live object (its cost was not measured on its
own; the 500,000-case backlog was judged no slower with it, docs/box.md).

``cycle_collector_paused`` keeps Python's cyclic collector from walking a bulk job's many live
objects again and again while it runs (a bulk load, a rule pass).

Example::

    with cycle_collector_paused():
        judge_a_chunk()
    give_back()
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Iterator
from contextlib import contextmanager


def _trim():
    try:
        libc = ctypes.CDLL("libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (or no malloc_trim): nothing to ask
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _trim()


def give_back() -> bool:
    """Return the malloc arenas' free pages to the system; True when glibc was asked."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk job, then let it run again.

    Ingest and the rule pass make no reference cycles worth collecting (their objects go by
    reference counting), but the collector keeps walking the thousands of events, case facts,
    findings and outbox rows alive meanwhile: about a tenth of a bulk load's CPU time, and
    three full collections in each of bench_rules' passes. Overlapping uses on two threads
    are safe: only the one that found the collector on turns it on again.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

"""The motion gate: people moving count, noise and light do not."""

from __future__ import annotations

import cv2
import numpy as np

from edge.presence.motion import MotionGate
from edge.presence.sources import HallScene

# The repo root, for tests.presence_clips: pytest's pythonpath does not include it.
from tests.presence_clips import REGIONS, SIZE, astronaut_sprite


def scene() -> HallScene:
    cv2.setRNGSeed(3)
    return HallScene(SIZE, REGIONS, sprite=astronaut_sprite())


def warmed_gate(hall: HallScene, frames: int = 10, **render) -> MotionGate:
    gate = MotionGate(SIZE, REGIONS)
    for i in range(frames):
        result = gate.update(hall.render(i / 5, **render))
    assert max(result.moving.values()) == 0.0
    return gate


def test_sensor_noise_is_not_motion():
    hall = scene()
    gate = warmed_gate(hall)
    results = [gate.update(hall.render(2 + i / 5)) for i in range(20)]
    assert all(max(r.moving.values()) == 0.0 and not r.lighting_change for r in results)


def test_a_person_sitting_down_moves_only_their_region():
    hall = scene()
    gate = warmed_gate(hall)
    result = gate.update(hall.render(3.0, present={1}))
    assert result.is_moving(1, gate.settings.min_fraction)
    assert result.moving[2] == 0.0


def test_dimming_or_brightening_the_hall_is_not_motion():
    hall = scene()
    gate = warmed_gate(hall, present={1}, still=True)
    for light in (0.55, 0.55, 1.3, 1.3):
        result = gate.update(hall.render(3.0, present={1}, still=True, light=light))
        assert max(result.moving.values()) < gate.settings.min_fraction, light


def test_a_change_of_most_of_the_frame_resets_the_background():
    hall = scene()
    gate = warmed_gate(hall)
    negative = 255 - hall.render(3.0)
    first = gate.update(negative)
    assert first.lighting_change and max(first.moving.values()) == 0.0
    assert max(gate.update(255 - hall.render(3.2)).moving.values()) == 0.0


def test_the_small_frame_keeps_the_aspect_and_maps_each_region():
    gate = MotionGate((640, 480), REGIONS)
    assert gate.small_size == (160, 120)
    rows, cols = gate.small_slice(REGIONS[1])
    assert (rows.start, rows.stop, cols.start, cols.stop) == (7, 55, 42, 78)
    grey = gate.shrink(np.zeros((480, 640, 3), np.uint8))
    assert grey.shape == (120, 160) and grey.dtype == np.uint8

"""Regenerate ``face.png`` from the astronaut photograph shipped with scikit-image.

Run once from the repository root (scikit-image is a test-only dependency)::

    .venv/bin/python -m edge.presence.assets.make_face

The photo is NASA's portrait of Eileen Collins (public domain, ``skimage.data.astronaut()``).
The crop is her face and shoulders, scaled to 120x150 pixels, with a soft oval outline in the
alpha channel so that it sits naturally on a drawn chair.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIZE = (120, 150)  # width, height
TARGET = Path(__file__).with_name("face.png")


def make_face() -> np.ndarray:
    """The BGRA sprite: the same crop and outline as ``tests/presence_clips.astronaut_sprite``."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    crop = photo[5:345, 95:375]
    height, width = crop.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(mask, (130, 110), (80, 105), 0, 0, 360, 255, -1)  # head
    cv2.ellipse(mask, (140, 340), (140, 190), 0, 180, 360, 255, -1)  # shoulders
    mask = cv2.GaussianBlur(mask, (7, 7), 0)
    sprite = cv2.resize(np.dstack([crop, mask]), SIZE, interpolation=cv2.INTER_AREA)
    sprite[sprite[:, :, 3] == 0, :3] = 0  # invisible pixels compress to nothing
    sprite[:, :, :3] &= 0xFE  # the lowest bit is sensor noise; without it the file is < 30 KB
    return sprite


if __name__ == "__main__":
    cv2.imwrite(str(TARGET), make_face(), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"{TARGET}: {TARGET.stat().st_size} bytes")

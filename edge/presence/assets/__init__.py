"""Files shipped with the presence module: the face the simulated hall cameras draw.

``face.png`` is a 120x150 BGRA crop of NASA's astronaut portrait (public domain; see README.md
here). ``face_sprite()`` reads it once per process.

Example::

    >>> face_sprite().shape
    (150, 120, 4)
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

FACE = Path(__file__).with_name("face.png")


@functools.cache
def face_sprite() -> np.ndarray:
    """The shipped face and shoulders, BGRA (the alpha channel is a soft outline)."""
    sprite = cv2.imread(str(FACE), cv2.IMREAD_UNCHANGED)
    if sprite is None or sprite.ndim != 3 or sprite.shape[2] != 4:
        raise FileNotFoundError(f"{FACE}: missing or not a BGRA PNG; reinstall hallwatch")
    sprite.flags.writeable = False  # shared by every scene in the process
    return sprite

"""An offline captcha: a small sum drawn as a noisy PNG, answered against a signed token.

The server makes a question (``7 + 5``) and draws it with OpenCV as a PNG: each glyph in its
own font, size, colour and angle, on blotches, crossed by strokes, bent along a sine, with
speckle and grain (no font files, no network). The page shows it as an ``<img>`` (a ``data:``
URI); the question is nowhere in the page's text. The earlier SVG captcha kept each character
in a ``<text>`` element, in order: a parser read 23 of 23. The form has a 看不清？换一张 button
for a new image (it keeps what was typed).

The form gets a token ``expires.nonce.mac`` where ``mac = HMAC(secret, expires|nonce|answer)``.
The token does not contain the answer; checking an answer recomputes the MAC. Each nonce is
accepted once (the complaint desk records it in the same transaction as the complaint).

Example::

    challenge = new_challenge(b"secret", now=1_800_000_000)
    nonce, expires = check_answer(b"secret", challenge.token, "12", now=1_800_000_010)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
from dataclasses import dataclass

import cv2
import numpy as np
from markupsafe import Markup

LIFETIME_SECONDS = 600
WIDTH, HEIGHT = 200, 64
INKS = ((140, 60, 20), (30, 30, 140), (40, 100, 40), (120, 40, 110), (20, 20, 20))  # BGR


class CaptchaError(ValueError):
    """A wrong, expired or malformed captcha answer."""


@dataclass(frozen=True)
class Challenge:
    question: str  # for the server only: never put it in a page
    token: str
    png: bytes

    @property
    def image(self) -> Markup:
        """The ``<img>`` for the form: the PNG inline, an alt text that does not give it away."""
        data = base64.b64encode(self.png).decode("ascii")
        return Markup(f'<img class="captcha" src="data:image/png;base64,{data}" width="{WIDTH}"'
                      f' height="{HEIGHT}" alt="验证码图片：请计算图中算式的结果">')


def _mac(secret: bytes, expires: int, nonce: str, answer: int) -> str:
    message = f"captcha|{expires}|{nonce}|{answer}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def new_challenge(secret: bytes, now: float, rng: random.Random | None = None) -> Challenge:
    rng = rng or random.SystemRandom()
    a, b = rng.randint(2, 19), rng.randint(1, 9)
    operator = rng.choice("+-×")
    if operator == "-" and b > a:
        a, b = b, a
    answer = a + b if operator == "+" else a - b if operator == "-" else a * b
    question = f"{a} {operator} {b} = ?"
    expires = int(now) + LIFETIME_SECONDS
    nonce = secrets.token_hex(8)
    token = f"{expires}.{nonce}.{_mac(secret, expires, nonce, answer)}"
    return Challenge(question, token, draw(question, rng))


def check_answer(secret: bytes, token: str, answer: str, now: float) -> tuple[str, int]:
    """(nonce, expires) when ``answer`` is right for ``token`` and in time; CaptchaError if not."""
    try:
        expires_text, nonce, mac = (token or "").split(".")
        expires = int(expires_text)
        value = int((answer or "").strip())
    except ValueError:
        raise CaptchaError("请填写验证码（图中算式的结果）") from None
    if now > expires:
        raise CaptchaError("验证码已过期，请重新填写")
    if not hmac.compare_digest(mac, _mac(secret, expires, nonce, value)):
        raise CaptchaError("验证码错误，请重新计算图中算式")
    return nonce, expires


def draw(text: str, rng: random.Random) -> bytes:
    """The question as a PNG: each glyph shifted, scaled and turned, on noise, then warped.

    Drawn with OpenCV's own (Hershey) fonts, so no font file is needed; ``×`` is two strokes.
    """
    seed = np.random.default_rng(rng.getrandbits(64))
    image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    image[:] = [rng.randint(225, 250) for _ in range(3)]
    for _ in range(6):  # background blotches in pale colours
        centre = (rng.randrange(WIDTH), rng.randrange(HEIGHT))
        axes = (rng.randint(8, 40), rng.randint(5, 20))
        colour = [rng.randint(170, 235) for _ in range(3)]
        cv2.ellipse(image, centre, axes, rng.randrange(180), 0, 360, colour, -1, cv2.LINE_AA)
    glyphs = [_glyph(char, rng) for char in text.replace(" ", "")]
    spare = WIDTH - sum(glyph.shape[1] for glyph in glyphs)
    x = max(2, (spare - 4 * len(glyphs)) // 2 + rng.randint(-6, 6))
    for glyph in glyphs:
        tall, wide = glyph.shape[:2]
        tall, wide = min(tall, HEIGHT), min(wide, WIDTH - x)
        if wide <= 0:
            break
        y = min(max(0, (HEIGHT - tall) // 2 + rng.randint(-7, 7)), HEIGHT - tall)
        region = image[y:y + tall, x:x + wide]
        ink = glyph[:tall, :wide, 3:] / 255.0
        region[:] = (region * (1 - ink) + glyph[:tall, :wide, :3] * ink).astype(np.uint8)
        x += wide + rng.randint(3, 6)
    for width in (1, 1):  # thin strokes across the glyphs, in the glyphs' colours
        points = [(rng.randrange(WIDTH), rng.randrange(12, HEIGHT - 12)) for _ in range(3)]
        cv2.polylines(image, [np.array(points, np.int32)], False, rng.choice(INKS), width,
                      cv2.LINE_AA)
    image = _wave(image, rng)
    speckle = seed.integers(0, 100, (HEIGHT, WIDTH)) < 3  # salt and pepper
    image[speckle] = seed.integers(0, 255, (int(speckle.sum()), 3), dtype=np.uint8)
    noise = seed.normal(0, 9, image.shape)
    image = np.clip(image + noise, 0, 255).astype(np.uint8)
    ok, png = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
        raise RuntimeError("OpenCV could not encode the captcha")
    return png.tobytes()


def _glyph(char: str, rng: random.Random) -> np.ndarray:
    """One character on a transparent (BGRA) tile, turned a little, cropped to its ink."""
    size = 60
    tile = np.zeros((size, size, 4), np.uint8)
    colour = (*rng.choice(INKS), 255)
    thickness = rng.randint(2, 3) if char.isdigit() else 3  # a thin - hides in the noise
    if char == "×":
        a, b = rng.randint(20, 23), rng.randint(37, 40)
        cv2.line(tile, (a, a), (b, b), colour, thickness + 1, cv2.LINE_AA)
        cv2.line(tile, (a, b), (b, a), colour, thickness + 1, cv2.LINE_AA)
    else:
        font = rng.choice((cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX,
                           cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX))
        scale = rng.uniform(1.05, 1.35)
        (w, h), _ = cv2.getTextSize(char, font, scale, thickness)
        cv2.putText(tile, char, ((size - w) // 2, (size + h) // 2), font, scale, colour,
                    thickness, cv2.LINE_AA)
    tilt = 20 if char.isdigit() else 8  # a turned + must not look like ×
    turn = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-tilt, tilt),
                                   rng.uniform(0.9, 1.1))
    tile = cv2.warpAffine(tile, turn, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    rows, cols = np.nonzero(tile[..., 3])
    return tile[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def _wave(image: np.ndarray, rng: random.Random) -> np.ndarray:
    """Bend the whole image along a sine in both directions (no straight baseline to find)."""
    rows, cols = np.indices((HEIGHT, WIDTH), dtype=np.float32)
    amplitude, period, phase = rng.uniform(2, 4), rng.uniform(40, 80), rng.uniform(0, 6.3)
    map_x = cols + rng.uniform(1, 2.5) * np.sin(rows / rng.uniform(8, 14) + phase)
    map_y = rows + amplitude * np.sin(cols / period * 6.283 + phase)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

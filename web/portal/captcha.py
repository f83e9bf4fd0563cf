"""An offline captcha: a small sum drawn as an SVG, answered against a signed token.

The server makes a question (``7 + 5``), draws it as an inline SVG with jittered glyphs and
noise lines (no font files, no network), and hands the form a token
``expires.nonce.mac`` where ``mac = HMAC(secret, expires|nonce|answer)``. The token does not
contain the answer; checking an answer recomputes the MAC. Each nonce is accepted once (the
complaint desk records it in the same transaction as the complaint).

Example::

    challenge = new_challenge(b"secret", now=1_800_000_000)
    nonce, expires = check_answer(b"secret", challenge.token, "12", now=1_800_000_010)
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from dataclasses import dataclass

from markupsafe import Markup, escape

LIFETIME_SECONDS = 600


class CaptchaError(ValueError):
    """A wrong, expired or malformed captcha answer."""


@dataclass(frozen=True)
class Challenge:
    question: str
    token: str
    svg: Markup


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


def draw(text: str, rng: random.Random) -> Markup:
    """The question as an inline SVG: each glyph shifted and turned, with noise over it."""
    width, height = 170, 50
    parts = [f'<svg class="captcha" viewBox="0 0 {width} {height}" width="{width}"'
             f' height="{height}" role="img" aria-label="验证码算式"'
             ' xmlns="http://www.w3.org/2000/svg">',
             f'<rect width="{width}" height="{height}" fill="#f4f6fa"/>']
    for _ in range(5):
        parts.append(f'<line x1="{rng.randint(0, width)}" y1="{rng.randint(0, height)}"'
                     f' x2="{rng.randint(0, width)}" y2="{rng.randint(0, height)}"'
                     f' stroke="#{rng.randint(0x889, 0xbbd):03x}" stroke-width="1"/>')
    x = 10
    for char in text:
        if char == " ":
            x += 6
            continue
        y = 33 + rng.randint(-5, 5)
        angle = rng.randint(-18, 18)
        colour = rng.choice(("#1f4e8c", "#7a1f1f", "#2e5d2e", "#4a3b8c"))
        parts.append(f'<text x="{x}" y="{y}" font-size="{rng.randint(22, 27)}"'
                     f' font-family="monospace" font-weight="bold" fill="{colour}"'
                     f' transform="rotate({angle} {x + 6} {y - 8})">{escape(char)}</text>')
        x += 17
    for _ in range(25):
        parts.append(f'<circle cx="{rng.randint(0, width)}" cy="{rng.randint(0, height)}"'
                     f' r="1" fill="#99a"/>')
    parts.append("</svg>")
    return Markup("".join(parts))

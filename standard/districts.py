"""The city's districts (一市五区): codes and names.

Example::

    >>> district_name("440605")
    '南海区'
"""

from __future__ import annotations

DISTRICTS: dict[str, str] = {
    "440604": "禅城区",
    "440605": "南海区",
    "440606": "顺德区",
    "440607": "三水区",
    "440608": "高明区",
}


class UnknownDistrict(ValueError):
    """A district code that is not one of the city's districts."""


def district_name(code: str) -> str:
    """The district's name for its 6-digit code; raises UnknownDistrict naming the known codes."""
    try:
        return DISTRICTS[code]
    except KeyError:
        known = ", ".join(f"{c} {n}" for c, n in DISTRICTS.items())
        raise UnknownDistrict(f"unknown district code {code!r}; known: {known}") from None

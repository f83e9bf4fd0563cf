"""The city's units (一市五区): the city level (市本级) and the five districts, codes and names.

The city level (440600 佛山市本级: the city service hall and the city departments) is a unit
like each district: it has its own box, its own departments (``440600SCJ``) and its own scores.
Department codes are the unit's code followed by the department's short code (``440605SCJ``);
:func:`check_dept_scope` says which part of such a code no catalogue knows.

Example::

    >>> district_name("440605")
    '南海区'
    >>> hall_name("440600"), short_name("440600"), short_name("440605")
    ('佛山市', '佛山', '南海')
    >>> split_dept_code("440605SCJ")
    ('440605', 'SCJ')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

CITY_CODE = "440600"
DISTRICTS: dict[str, str] = {
    CITY_CODE: "佛山市本级",
    "440604": "禅城区",
    "440605": "南海区",
    "440606": "顺德区",
    "440607": "三水区",
    "440608": "高明区",
}
CITY_NAME = "佛山市"


class UnknownDistrict(ValueError):
    """A district code that is not one of the city's units."""


class UnknownDepartment(ValueError):
    """A department (or the unit in its code) that no catalogue knows; the message says which."""


def district_name(code: str) -> str:
    """The unit's name for its 6-digit code; raises UnknownDistrict naming the known codes."""
    try:
        return DISTRICTS[code]
    except KeyError:
        raise UnknownDistrict(f"unknown district code {code!r}; known: {known_units()}") from None


def known_units() -> str:
    return ", ".join(f"{c} {n}" for c, n in DISTRICTS.items())


def hall_name(code: str) -> str:
    """The name a hall or an office of the unit goes by: 南海区, and 佛山市 for the city level."""
    return CITY_NAME if code == CITY_CODE else DISTRICTS.get(code, code)


def short_name(code: str) -> str:
    """The short name in a document number: 南海 (南海电监〔2026〕1号), 佛山 for the city."""
    return hall_name(code).removesuffix("区").removesuffix("市")


def split_dept_code(dept_code: str) -> tuple[str, str]:
    """(unit code, department short code) of ``440605SCJ``; ("", code) without a unit prefix."""
    code = (dept_code or "").strip()
    if len(code) > 6 and code[:6].isdigit():
        return code[:6], code[6:]
    return "", code


def check_dept_scope(dept_code: str, known_depts: Iterable[str], *,
                     district_code: str | None = None) -> str:
    """``dept_code`` as given, when it is a department of a known unit that a catalogue lists.

    ``known_depts`` are the catalogue's department codes; ``district_code`` (a box's own unit)
    also refuses another unit's department. The message names the part that is wrong.

    >>> check_dept_scope("440605SCJ", {"440605SCJ"})
    '440605SCJ'
    >>> check_dept_scope("440609SCJ", {"440605SCJ"})
    Traceback (most recent call last):
    ...
    standard.districts.UnknownDepartment: 区代码 440609 不存在（可选：440600 佛山市本级, 440604 禅城区, 440605 南海区, 440606 顺德区, 440607 三水区, 440608 高明区）(unknown district 440609 in 440609SCJ)
    """
    code = (dept_code or "").strip()
    unit, short = split_dept_code(code)
    if not short:
        raise UnknownDepartment("部门代码不能为空 (department code is empty)")
    if unit and unit not in DISTRICTS:
        raise UnknownDepartment(f"区代码 {unit} 不存在（可选：{known_units()}）"
                                f"(unknown district {unit} in {code})")
    if district_code and unit != district_code:
        raise UnknownDepartment(
            f"部门 {code} 不属于本机所属的{hall_name(district_code)}（{district_code}），"
            f"应以 {district_code} 开头 (department {code} is not of this box's district "
            f"{district_code})")
    if code not in set(known_depts):
        where = DISTRICTS.get(unit, "") or "事项"
        raise UnknownDepartment(f"部门 {short} 不在{where}的事项目录中（{code}）"
                                f"(department {short} of {unit or 'no district'} is not in "
                                f"the catalogue)")
    return code


def dept_checker(known_depts: Iterable[str], district_code: str) -> Callable[[str], str]:
    """:func:`check_dept_scope` for one box: its catalogue's departments, its own unit."""
    known = frozenset(known_depts)
    return lambda code: check_dept_scope(code, known, district_code=district_code)

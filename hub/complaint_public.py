"""What the public portal shows of complaints: a citizen's own by tracking number, the counts
per department, and the replies made public (公开回复), with personal data masked.

A reply is public only when the citizen agreed that the complaint may be published
(``publish_ok``, a box on the form, or told to the hotline) *and* the supervisor chose to
publish the reply (``published``). Even then the portal never shows the contact name or phone,
and :func:`mask_personal` masks what a citizen or a clerk may have typed into the text: mobile
and landline numbers, ID card numbers, e-mail addresses, and the contact's own name.

Example::

    mask_personal("请联系张三 13800138000", names=("张三",))   # '请联系张* 138****8000'
    rows, total, page, pages = public_replies(store, page=1)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from hub.complaints import STATE_NAMES

PER_PAGE = 20
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[- ]?\d{7,8}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PUBLIC_COLUMNS = ("id, kind, subject, content, district_code, dept_suffix, submitted_on, reply,"
                   " replied_at, contact_name")


def mask_personal(text: str | None, names: Iterable[str | None] = ()) -> str:
    """``text`` with phone, ID card numbers, e-mail addresses and the given names masked.

    >>> mask_personal("身份证440602199001011234，电话0757-83381234，王小明", ["王小明"])
    '身份证440602********1234，电话0757-********，王**'
    """
    out = _ID_CARD.sub(lambda m: f"{m[1]}********{m[2][-4:]}", text or "")
    out = _MOBILE.sub(r"\1****\2", out)
    out = _LANDLINE.sub(r"\1-********", out)
    out = _EMAIL.sub("***@***", out)
    for name in names:
        name = (name or "").strip()
        if len(name) >= 2:
            out = out.replace(name, name[0] + "*" * (len(name) - 1))
    return out


def public_status(store, tracking_no: str) -> dict[str, Any] | None:
    """What the citizen sees: no contact details, no internal notes, only the reply."""
    rows = store.query(
        "select tracking_no, kind, subject, submitted_on, state, accept_due, reply_due,"
        " accepted_on, reply, replied_at, closed_at from complaints where tracking_no = ?",
        ((tracking_no or "").strip().upper(),))
    if not rows:
        return None
    row = rows[0]
    row["state_name"] = STATE_NAMES[row["state"]]
    return row


def counts_by_department(store) -> list[tuple[str, dict[str, int]]]:
    """(department suffix, {"open", "answered", "rejected"}) for the public chart."""
    out: dict[str, dict[str, int]] = {}
    for row in store.query("select coalesce(dept_suffix, '') as dept, state,"
                           " count(*) as n from complaints group by 1, 2"):
        entry = out.setdefault(row["dept"], {"open": 0, "answered": 0, "rejected": 0})
        key = ("answered" if row["state"] in ("replied", "closed") else
               "rejected" if row["state"] == "rejected" else "open")
        entry[key] += row["n"]
    return sorted(out.items(), key=lambda pair: -sum(pair[1].values()))


def public_replies(store, page: int = 1, per_page: int = PER_PAGE
                   ) -> tuple[list[dict[str, Any]], int, int, int]:
    """(rows, total, page, pages) of the published replies, newest first, masked."""
    where = "published = 1 and publish_ok = 1 and state in ('replied', 'closed')"
    total = store.query(f"select count(*) as n from complaints where {where}")[0]["n"]
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = store.query(f"select {_PUBLIC_COLUMNS} from complaints where {where}"
                       " order by id desc limit ? offset ?", (per_page, (page - 1) * per_page))
    for row in rows:
        name = row.pop("contact_name")
        for key in ("subject", "content", "reply"):
            row[key] = mask_personal(row[key], [name])
    return rows, total, page, pages

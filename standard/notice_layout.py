"""The printed layout of supervision notices, shared by box and hub: one A4 sheet, 公文 style.

The box's 限期办理通知书 and 整改建议书 (edge/supervision/noticebook.py) and the city's
督办通知书 (hub/dubans.py) are the same kind of document: a red issuing-organ line, the
document number, a red rule, a title, the recipient, the text, a table of the case, the
requirements, and the issuer and date at the bottom right. A notice is a ``content`` dict
(JSON, ``version`` 1):

    {"number", "title", "recipient", "opening", "lines": [[name, value], ...],
     "requirements": [text, ...], "issuer", "issued_on": "YYYY-MM-DD"}

and :func:`render_notice_page` makes it one self-contained HTML page (inline CSS, no assets)
whose print CSS keeps it on one A4 page, the signature never alone on a second one.

Example::

    >>> page = render_notice_page({"number": "佛山电监〔2026〕3号", "title": "督办通知书",
    ...     "recipient": "南海区市场监督管理局", "opening": "……", "lines": [["办件编号", "X"]],
    ...     "requirements": ["特此通知。"], "issuer": "佛山市电子监察中心",
    ...     "issued_on": "2026-11-20"}, org="佛山市行政审批电子监察")
    >>> "2026年11月20日" in page and "@page { size: A4" in page
    True
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

REQUIRED = ("number", "title", "recipient", "opening", "lines", "requirements", "issuer",
            "issued_on")


def chinese_date(day: dt.date | str) -> str:
    """The date as a notice writes it.

    >>> chinese_date("2026-11-09")
    '2026年11月9日'
    """
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    return f"{day.year}年{day.month}月{day.day}日"


def is_complete(content: dict[str, Any] | None) -> bool:
    """True when ``content`` has every part :func:`render_notice_page` prints."""
    return isinstance(content, dict) and all(content.get(key) is not None for key in REQUIRED)


NOTICE_CSS = """
@page { size: A4; margin: 37mm 26mm 35mm 28mm; }
* { box-sizing: border-box; }
body { margin: 0; color: #000; background: #fff;
  font-family: "FangSong", "仿宋", "STFangsong", "FangSong_GB2312", "Noto Serif CJK SC", serif;
  font-size: 16pt; line-height: 28pt; }
.notice { max-width: 156mm; margin: 0 auto; }
.org { color: #c00; text-align: center; font-size: 26pt; line-height: 40pt; letter-spacing: 2pt;
  font-family: "SimSun", "宋体", "STSong", "Noto Serif CJK SC", serif; font-weight: bold; }
.number { text-align: center; margin: 8pt 0 4pt; }
.rule { border: 0; border-top: 2px solid #c00; margin: 0 0 20pt; }
h1 { text-align: center; font-size: 22pt; line-height: 36pt; margin: 0 0 16pt; font-weight: bold;
  font-family: "SimSun", "宋体", "STSong", "Noto Serif CJK SC", serif; }
p { margin: 0; text-indent: 2em; }
p.recipient { text-indent: 0; }
table { width: 100%; border-collapse: collapse; margin: 8pt 0 12pt; font-size: 14pt;
  line-height: 22pt; }
th, td { border: 1px solid #000; padding: 3pt 6pt; vertical-align: top; text-align: left; }
th { width: 8em; white-space: nowrap; font-weight: normal; }
.signature { margin-top: 36pt; text-align: right; padding-right: 2em; }
/* One A4 sheet: the signature and date never fall alone onto a second page. */
@media print {
  body { font-size: 14pt; line-height: 22pt; }
  .org { font-size: 22pt; line-height: 32pt; }
  h1 { font-size: 18pt; line-height: 28pt; margin-bottom: 10pt; }
  .rule { margin-bottom: 12pt; }
  table { font-size: 12pt; line-height: 17pt; margin: 6pt 0 8pt; }
  th, td { padding: 2pt 5pt; }
  .signature { margin-top: 18pt; break-inside: avoid; break-before: avoid; }
}
/* A long notice (a long requirement, a joint case's table) sets tighter on the same sheet. */
.notice.dense { page: dense; }
@page dense { size: A4; margin: 25mm 22mm 22mm 24mm; }
@media print {
  .dense { font-size: 12pt; line-height: 18pt; }
  .dense .org { font-size: 20pt; line-height: 28pt; }
  .dense h1 { font-size: 16pt; line-height: 24pt; margin-bottom: 6pt; }
  .dense .rule { margin-bottom: 8pt; }
  .dense table { font-size: 10.5pt; line-height: 14pt; margin: 4pt 0 6pt; }
  .dense .signature { margin-top: 12pt; }
}
@media screen { body { background: #eee; padding: 12mm 0; }
  .notice { background: #fff; padding: 20mm 20mm; box-shadow: 0 0 4px #999; max-width: 210mm; } }
"""


# Characters of text (opening, table, requirements) above which the notice sets tighter
# (class "dense"): the full layout holds about this much on one A4 sheet with its signature.
DENSE_ABOVE = 300


def text_size(content: dict[str, Any]) -> int:
    """The characters a notice prints besides its fixed parts (heading, signature)."""
    return (len(content["opening"]) + sum(len(str(n)) + len(str(v)) for n, v in content["lines"])
            + sum(len(line) for line in content["requirements"]))


def render_notice_page(content: dict[str, Any], *, org: str) -> str:
    """The notice as one self-contained, printable A4 HTML page; ``org`` heads it in red."""
    c, e = content, html.escape
    dense = " dense" if text_size(c) > DENSE_ABOVE else ""
    rows = "".join(f"<tr><th>{e(name)}</th><td>{e(value)}</td></tr>" for name, value in c["lines"])
    requirements = "".join(f"<p>{e(line)}</p>" for line in c["requirements"])
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f"<title>{e(c['number'])} {e(c['title'])}</title><style>{NOTICE_CSS}</style></head><body>"
        f"<article class=\"notice{dense}\"><div class=\"org\">{e(org)}</div>"
        f"<div class=\"number\">{e(c['number'])}</div><hr class=\"rule\">"
        f"<h1>{e(c['title'])}</h1><p class=\"recipient\">{e(c['recipient'])}：</p>"
        f"<p>{e(c['opening'])}</p><table>{rows}</table>{requirements}"
        f"<div class=\"signature\"><div>{e(c['issuer'])}</div>"
        f"<div>{e(chinese_date(c['issued_on']))}</div></div></article></body></html>\n")


def render_notice_text(content: dict[str, Any], *, org: str) -> str:
    """The notice as plain text for a terminal."""
    c = content
    lines = [org, c["number"], "", c["title"], "", f"{c['recipient']}：", f"    {c['opening']}"]
    lines += [f"    {name}：{value}" for name, value in c["lines"]]
    lines += [f"    {line}" for line in c["requirements"]]
    lines += ["", f"{c['issuer']:>40}", f"{chinese_date(c['issued_on']):>40}"]
    return "\n".join(lines) + "\n"


VOID_TITLE = "本文书已作废"


def void_notice_page(page: str, reason: str, when: str) -> str:
    """The issued page with a void (作废) mark on top and the reason under it; the notice itself
    stays as issued. ``when`` is the local date the alert was withdrawn."""
    e = html.escape
    stamp = (f'<div class="void" style="border:3px solid #c00;color:#c00;padding:6pt;'
             f'margin-bottom:12pt;text-indent:0;font-weight:bold">【作废】{e(VOID_TITLE)}'
             f'（{e(when)}）</div>')
    note = (f'<div class="void-reason" style="margin-top:24pt;border:1px solid #c00;padding:6pt;'
            f'text-indent:0">作废原因：{e(reason)}</div>')
    start = page.find("<article")
    if start >= 0:
        open_end = page.find(">", start) + 1
        page = page[:open_end] + stamp + page[open_end:]
    return page.replace("</article>", note + "</article>", 1)

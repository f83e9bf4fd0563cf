"""The law and regulation library (法规查询): the legal bases the catalogue cites, as data.

``laws.json`` (beside this module) holds each law's title, issuer, history and source, and
its articles. An article is either ``原文`` (verbatim text, only where it is certain) or
``摘要`` (a summary written for this system, shown as such, never as the law's words). The
library's note says which text prevails: 以国家法律法规数据库公布的文本为准.

:meth:`LawLibrary.references` finds the laws and articles a catalogue item's legal basis names
(``《中华人民共和国行政许可法》第四十二条``), so the portal can link each one to its page; a law
the library does not hold is still returned (``law`` None) and linked to a search.

Example::

    library = LawLibrary.load()
    [ref.law.id for ref in library.references("《中华人民共和国行政许可法》第四十二条")]
    # ['xingzheng-xuke-fa']
    library.search("四十五日")[0].article.label     # '第四十二条'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).with_name("laws.json")
DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
          "七": 7, "八": 8, "九": 9}
UNITS = {"十": 10, "百": 100, "千": 1000}
_TITLE = re.compile(r"《([^》]{2,80})》")
_ARTICLE = re.compile(r"^\s*第([零〇一二两三四五六七八九十百千\d]{1,8})条")


def chinese_number(text: str) -> int:
    """``四十二`` → 42, ``一百零三`` → 103, ``十五`` → 15, ``42`` → 42.

    >>> chinese_number("四十二"), chinese_number("一百零三"), chinese_number("十")
    (42, 103, 10)
    """
    if text.isdigit():
        return int(text)
    total, digit = 0, 0
    for char in text:
        if char in DIGITS:
            digit = DIGITS[char]
        elif char in UNITS:
            total += (digit or 1) * UNITS[char]
            digit = 0
        else:
            raise ValueError(f"not a Chinese number: {text!r}")
    return total + digit


def chinese_numeral(number: int) -> str:
    """42 → ``四十二`` (1–9999), the way articles are numbered.

    >>> chinese_numeral(42), chinese_numeral(10), chinese_numeral(103), chinese_numeral(82)
    ('四十二', '十', '一百零三', '八十二')
    """
    names = "零一二三四五六七八九"
    parts, zero = [], False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = number // value % 10
        if digit:
            if zero:
                parts.append("零")
            parts.append(("" if unit == "十" and digit == 1 and not parts else names[digit])
                         + unit)
            zero = False
        elif parts:
            zero = True
    return "".join(parts)


@dataclass(frozen=True)
class Article:
    no: int | None
    heading: str
    kind: str  # 原文 or 摘要
    text: str
    index: int = 0  # its place in the law, for an anchor when it has no number

    @property
    def label(self) -> str:
        return f"第{chinese_numeral(self.no)}条" if self.no else self.heading

    @property
    def anchor(self) -> str:
        return f"art-{self.no}" if self.no else f"part-{self.index + 1}"

    @property
    def verbatim(self) -> bool:
        return self.kind == "原文"


@dataclass(frozen=True)
class Law:
    id: str
    title: str
    aliases: tuple[str, ...]
    issuer: str
    history: str
    source: str
    articles: tuple[Article, ...] = field(default_factory=tuple)

    def article(self, no: int) -> Article | None:
        return next((a for a in self.articles if a.no == no), None)


@dataclass(frozen=True)
class Reference:
    """A law (and article) named in a legal-basis text; ``law`` None: not in the library."""

    title: str
    law: Law | None
    article_no: int | None
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    law: Law
    article: Article | None  # None: the title matched


class LawLibrary:
    def __init__(self, laws: list[Law], note: str, summary_note: str, database: str):
        self.laws = laws
        self.note = note
        self.summary_note = summary_note
        self.database = database
        self._names = sorted(((name, law) for law in laws for name in (law.title, *law.aliases)),
                             key=lambda pair: -len(pair[0]))

    @classmethod
    def load(cls, path: Path = DATA) -> LawLibrary:
        return _load(path)

    def get(self, law_id: str) -> Law | None:
        return next((law for law in self.laws if law.id == law_id), None)

    def by_name(self, name: str) -> Law | None:
        return next((law for known, law in self._names if known == name.strip()), None)

    def references(self, text: str | None) -> list[Reference]:
        """Every 《title》 in ``text``, with the article number right after it, if any."""
        found = []
        for match in _TITLE.finditer(text or ""):
            article = _ARTICLE.match(text[match.end():])
            end = match.end() + (article.end() if article else 0)
            try:
                number = chinese_number(article[1]) if article else None
            except ValueError:
                number = None
            found.append(Reference(match[1], self.by_name(match[1]), number, match.start(), end))
        return found

    def search(self, query: str, limit: int = 50) -> list[Hit]:
        """Laws whose title or alias, and articles whose label, heading or text, contain every
        word of ``query`` (spaces separate words)."""
        words = [word for word in query.split() if word][:8]
        if not words:
            return []
        hits = []
        for law in self.laws:
            names = " ".join((law.title, *law.aliases))
            if all(word in names for word in words):
                hits.append(Hit(law, None))
            for article in law.articles:
                haystack = f"{law.title} {article.label} {article.heading} {article.text}"
                if all(word in haystack for word in words):
                    hits.append(Hit(law, article))
        return hits[:limit]


@lru_cache(maxsize=4)
def _load(path: Path) -> LawLibrary:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("version") != 1:
        raise ValueError(f"{path}: version must be 1")
    laws = []
    for raw in doc["laws"]:
        articles = tuple(Article(a.get("no"), a["heading"], a["kind"], a["text"], index)
                         for index, a in enumerate(raw["articles"]))
        for article in articles:
            if article.kind not in ("原文", "摘要"):
                raise ValueError(f"{path}: {raw['title']} {article.heading}: kind must be"
                                 " 原文 or 摘要")
        laws.append(Law(raw["id"], raw["title"], tuple(raw.get("aliases", ())), raw["issuer"],
                        raw["history"], raw["source"], articles))
    return LawLibrary(laws, doc["note"], doc.get("summary_note", ""), doc.get("database", ""))

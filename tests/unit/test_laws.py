"""The law library's data and its reading of legal-basis texts."""

from __future__ import annotations

from standard.laws import LawLibrary, chinese_number, chinese_numeral


def test_every_article_is_marked_verbatim_or_summary_and_the_note_is_there():
    library = LawLibrary.load()
    assert library.note == "以国家法律法规数据库公布的文本为准"
    for law in library.laws:
        assert law.source and law.articles
        assert all(article.kind in ("原文", "摘要") for article in law.articles)
    law = library.get("xingzheng-xuke-fa")
    assert [a.no for a in law.articles if a.verbatim] == [1, 2, 42, 43, 44, 45, 82]


def test_legal_bases_name_laws_and_articles_the_library_may_not_hold():
    library = LawLibrary.load()
    refs = library.references("依据《行政许可法》第八十二条和《中华人民共和国食品安全法》第三十五条")
    assert [(r.title, r.law.id if r.law else None, r.article_no) for r in refs] == [
        ("行政许可法", "xingzheng-xuke-fa", 82), ("中华人民共和国食品安全法", None, 35)]
    assert library.references("") == [] and library.references(None) == []


def test_numbers_both_ways():
    for number in (1, 10, 11, 20, 42, 45, 82, 100, 103, 110, 999):
        assert chinese_number(chinese_numeral(number)) == number
    assert chinese_numeral(42) == "四十二" and chinese_number("二十") == 20


def test_search_needs_every_word():
    library = LawLibrary.load()
    assert [h.article.label for h in library.search("工作日 法定节假日")] == ["第八十二条"]
    assert library.search("   ") == []

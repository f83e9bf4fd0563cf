"""法规查询 on the portal: the law library (standard/laws/), searchable, one page per law, and
each catalogue item's legal basis linked to it (registered on ``web.portal.bp``)."""

from __future__ import annotations

from flask import abort, render_template, request, url_for

from standard.laws import LawLibrary
from web.portal import bp

MAX_QUERY = 50


def library() -> LawLibrary:
    return LawLibrary.load()


@bp.app_template_global()
def basis_parts(text: str | None) -> list[tuple[str, str | None]]:
    """A legal-basis text cut into (text, link) parts: each 《law》(第N条) it names links to
    the law's page (at the article), or to a search when the library does not hold it."""
    text = text or ""
    parts: list[tuple[str, str | None]] = []
    at = 0
    for ref in library().references(text):
        if ref.start > at:
            parts.append((text[at:ref.start], None))
        if ref.law is not None:
            anchor = f"art-{ref.article_no}" if ref.article_no and \
                ref.law.article(ref.article_no) else None
            link = url_for("portal.law", law_id=ref.law.id) + (f"#{anchor}" if anchor else "")
        else:
            link = url_for("portal.laws", q=ref.title)
        parts.append((text[ref.start:ref.end], link))
        at = ref.end
    if at < len(text):
        parts.append((text[at:], None))
    return parts


@bp.get("/laws")
def laws():
    query = (request.args.get("q") or "").strip()[:MAX_QUERY]
    found = library().search(query) if query else []
    return render_template("portal_laws.html", library=library(), query=query, hits=found)


@bp.get("/laws/<law_id>")
def law(law_id: str):
    found = library().get(law_id)
    if found is None:
        abort(404)
    return render_template("portal_law.html", library=library(), law=found)

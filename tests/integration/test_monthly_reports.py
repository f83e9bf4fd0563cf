"""Monthly supervision reports: written by the hub once a month's scores are published, one for
the city and one per district, kept with every version, read within the user's scope, and
downloadable as XLSX whose text cells are never formulas."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from hub.reports import CITY, ReportWriter
from hub.scoring import compute_month
from hub.services import Scope
from standard.districts import DISTRICTS
from tests.hubkit import add_users, seeded_hub, sign_in
from web.hub import create_app


def _unavailable(_contents):
    from hub.reports import PdfUnavailable

    raise PdfUnavailable("测试：本机不生成 PDF")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    dashboard = seeded_hub(tmp_path_factory.mktemp("reports"))  # clock 2026-11-20
    book = dashboard.scorebook
    for month in ("2026-09", "2026-10"):
        book.save(month, compute_month(dashboard.data, dashboard.scoring, month),
                  dashboard.scoring, dashboard.scoring_text, user="王局")
        book.publish(month, user="王局", force=True, reason="测试")
    writer = ReportWriter(dashboard.reports, dashboard.data, book, _unavailable)
    written = writer.write_due()
    yield dashboard, add_users(dashboard), written, writer


def test_every_published_month_gets_a_city_and_a_district_report_once(hub):
    dashboard, _, written, writer = hub
    assert {(month, unit) for month, unit, _ in written} == {
        (month, unit) for month in ("2026-09", "2026-10") for unit in (CITY, *DISTRICTS)}
    assert writer.write_due() == []  # nothing twice
    reports = dashboard.reports.history(Scope.district("440605"))
    assert {r.unit_code for r in reports} == {CITY, "440605"}
    assert all(not r.has_pdf and "不生成 PDF" in r.pdf_error for r in reports)


def test_the_city_report_adds_up_the_districts_and_ranks_against_last_month(hub):
    dashboard, *_ = hub
    report = next(r for r in dashboard.reports.history(Scope.city())
                  if r.month == "2026-10" and r.unit_code == CITY)
    _, content = dashboard.reports.get(Scope.city(), report.id)
    assert content["totals"]["cases"] == sum(u["cases"] for u in content["units"]) > 0
    assert content["previous_month"] == "2026-09"
    ranking = content["district_ranking"]
    assert len(ranking) == len(DISTRICTS)
    for row in ranking:
        if row["rank"] and row["previous_rank"]:
            assert row["change"] == row["previous_rank"] - row["rank"]
    assert content["title"].endswith("2026年10月电子监察报告")


def test_pages_follow_the_scope_and_the_xlsx_is_safe(hub):
    dashboard, passwords, *_ = hub
    app = create_app(dashboard, {"TESTING": True})
    nanhai = sign_in(app, "nanhai", passwords["nanhai"]).client
    overview = nanhai.get("/").get_data(as_text=True)
    assert 'id="latest-reports"' in overview and "南海区2026年10月电子监察报告" in overview
    listing = nanhai.get("/reports").get_data(as_text=True)
    assert "南海区2026年10月电子监察报告" in listing and "全市2026年10月电子监察报告" in listing
    assert "顺德区" not in listing and "PDF 不可用" in listing
    shunde_report = next(r for r in dashboard.reports.history(Scope.city())
                         if r.unit_code == "440606")
    assert nanhai.get(f"/reports/{shunde_report.id}").status_code == 404
    own = next(r for r in dashboard.reports.history(Scope.district("440605"))
               if r.unit_code == "440605" and r.month == "2026-10")
    page = nanhai.get(f"/reports/{own.id}").get_data(as_text=True)
    for heading in ("办件与时效", "红黄牌及办理情况", "好差评", "投诉与建言", "窗口人员在岗情况",
                    "绩效排名及变化"):
        assert heading in page
    assert "PDF 不可用：测试：本机不生成 PDF" in page
    assert nanhai.get(f"/reports/{own.id}.pdf").status_code == 404
    answer = nanhai.get(f"/reports/{own.id}.xlsx")
    book = load_workbook(io.BytesIO(answer.data))
    assert book.sheetnames == ["概况", "办件与时效", "红黄牌", "离岗", "各区排名", "部门排名"]
    summary = {row[0]: row[1] for row in book["概况"].iter_rows(values_only=True)}
    assert summary["单位"] == "南海区" and summary["经办件数"] > 0
    assert not any(isinstance(v, str) and v.startswith("=")
                   for sheet in book for row in sheet.iter_rows(values_only=True) for v in row)

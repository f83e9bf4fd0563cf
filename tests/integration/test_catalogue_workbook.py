"""Excel catalogues: a province-style workbook into catalogue JSON on the box and on the hub,
with every bad row named, nothing written on refusal, and what changed against the current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from hallwatch.cli import main
from standard.catalogue import load_catalogue
from standard.catalogue_workbook import WorkbookError, read_workbook

HEADER = ["序号", "事项编码", "事项名称", "实施主体", "实施主体编码", "法定办结时限（工作日）",
          "承诺办结时限", "收费标准", "办件类型", "申请材料", "设定依据"]
BASIS = "《中华人民共和国行政许可法》"


def item_row(n: int, code: str, name: str, legal="20个工作日", promised="10", fee="不收费",
             kind="承诺件", dept=("市场监督管理局", "440605SCJ")) -> list:
    return [n, code, name, dept[0], dept[1], legal, promised, fee, kind,
            "1.申请书\n2.营业执照；3.身份证明", BASIS]


def workbook(path: Path, rows: list[list], header: list[str] = HEADER) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(["佛山市南海区政务服务事项目录（2026年版）"])  # a title row above the header
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


GOOD = [item_row(1, "440605-SCJ-001", "企业设立登记", "15", "3"),
        item_row(2, "440605-SCJ-002", "食品经营许可", 20, 10.0),
        item_row(3, "440605-MZJ-006", "婚姻登记", "即办", "即办", "9元", "即办",
                 ("民政局", "440605MZJ"))]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("side", ["edge", "hub"])
def test_a_workbook_becomes_a_catalogue_the_box_loads(tmp_path, side):
    out = tmp_path / "catalogue.json"
    answer = run(side, "catalogue", "import", str(workbook(tmp_path / "目录.xlsx", GOOD)),
                 "--out", str(out))
    assert answer.exit_code == 0, answer.output
    assert "读取 3 个事项" in answer.output
    items = load_catalogue(out)
    assert items["440605-SCJ-001"].legal_days == 15 and items["440605-SCJ-001"].promised_days == 3
    marriage = items["440605-MZJ-006"]
    assert (marriage.case_type, marriage.fee_yuan, marriage.legal_days) == ("即办件", "9.00", 0)
    assert items["440605-SCJ-002"].materials == ["申请书", "营业执照", "身份证明"]
    assert items["440605-SCJ-002"].dept_name == "市场监督管理局"


def test_an_excel_catalogue_with_a_bad_row_is_refused_naming_the_row(tmp_path):
    rows = GOOD + [
        item_row(4, "440605-ZJJ-004", "建筑工程施工许可", "15", "30"),  # promise beyond the law
        item_row(5, "440605-SCJ-001", "企业设立登记（重复）"),  # duplicate code
        item_row(6, "440605-ZJJ-005", "商品房预售许可", "二十日"),  # not a number
        item_row(7, "440605-GAJ-007", "身份证换领", fee="按工本费收取"),
    ]
    out = tmp_path / "catalogue.json"
    answer = run("edge", "catalogue", "import", str(workbook(tmp_path / "目录.xlsx", rows)),
                 "--out", str(out))
    assert answer.exit_code == 1
    assert "4 行有问题，未写出目录" in answer.output
    assert "第 6 行 承诺办结时限：承诺时限不得超过法定时限" in answer.output  # rows as Excel numbers
    assert "第 7 行 事项编码：事项编码 440605-SCJ-001 与第 3 行重复" in answer.output
    assert "第 8 行 法定办结时限（工作日）：“二十日”，不是工作日数" in answer.output
    assert "第 9 行 收费标准：“按工本费收取”不是金额" in answer.output
    assert not out.exists()


def test_what_changed_against_the_current_catalogue(tmp_path):
    out = tmp_path / "catalogue.json"
    assert run("edge", "catalogue", "import", str(workbook(tmp_path / "v1.xlsx", GOOD)), "--out",
               str(out)).exit_code == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    document["items"][0]["stage_days"] = {"审核": 1}  # set by the city, not in the workbook
    out.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    newer = [item_row(1, "440605-SCJ-001", "企业设立登记", "15", "2"), GOOD[1],
             item_row(9, "440605-RSJ-009", "劳务派遣经营许可", "20", "12",
                      dept=("人力资源和社会保障局", "440605RSJ"))]
    answer = run("edge", "catalogue", "import", str(workbook(tmp_path / "v2.xlsx", newer)),
                 "--out", str(out))
    assert answer.exit_code == 0, answer.output
    assert "新增事项 1 项，删除 1 项，时限变更 1 项" in answer.output
    assert "+ 440605-RSJ-009 劳务派遣经营许可" in answer.output
    assert "- 440605-MZJ-006 婚姻登记" in answer.output
    assert "* 440605-SCJ-001 企业设立登记 承诺时限 3 → 2 个工作日" in answer.output
    assert load_catalogue(out)["440605-SCJ-001"].stage_days == {"审核": 1}  # kept


def test_unrecognised_headers_need_a_mapping_which_names_its_mistakes(tmp_path):
    header = ["代码", "事项", "主管单位", "单位代码", "法定", "承诺", "费用", "类型", "材料", "依据"]
    rows = [r[1:] for r in GOOD]
    path = workbook(tmp_path / "odd.xlsx", rows, header)
    with pytest.raises(WorkbookError, match="找不到表头"):
        read_workbook(path)
    mapping = tmp_path / "columns.toml"
    mapping.write_text('version = 1\n[columns]\nitem_code = "代码"\nname = "事项"\n'
                       'dept_name = "主管单位"\ndept_code = "单位代码"\nlegal_days = "法定"\n'
                       'promised_days = "承诺"\nfee_yuan = "费用"\ncase_type = "类型"\n'
                       'materials = "材料"\nlegal_basis = "依据"\n', encoding="utf-8")
    out = tmp_path / "catalogue.json"
    answer = run("hub", "catalogue", "import", str(path), "--out", str(out), "--mapping",
                 str(mapping))
    assert answer.exit_code == 0, answer.output
    assert len(load_catalogue(out)) == 3
    mapping.write_text('version = 1\n[columns]\nitem_code = "编号"\n', encoding="utf-8")
    answer = run("hub", "catalogue", "import", str(path), "--out", str(out), "--mapping",
                 str(mapping))
    assert answer.exit_code == 1 and 'columns.item_code = "编号"' in answer.output
    mapping.write_text('version = 1\n[colums]\n', encoding="utf-8")
    answer = run("hub", "catalogue", "import", str(path), "--out", str(out), "--mapping",
                 str(mapping))
    assert "colums: unknown key (check the spelling)" in answer.output


@pytest.mark.parametrize("header", [
    ["序号", "事项代码", "*事项名称", "实施部门", "实施部门代码", "法定时限（天）", "承诺期限",
     "是否收费及收费标准", "办理类型", "申请材料目录", "法律依据"],
    ["序号", "实施清单编码", "实施事项名称", "实施机构", "实施机构编码", "法定办理时限",
     "承诺办理时限(工作日)", "收费情况", "办件类型", "材料清单", "设定和实施依据"],
])
def test_common_header_variants_are_recognised_without_a_mapping(tmp_path, header):
    out = tmp_path / "catalogue.json"
    answer = run("edge", "catalogue", "import", str(workbook(tmp_path / "目录.xlsx", GOOD, header)),
                 "--out", str(out))
    assert answer.exit_code == 0, answer.output
    items = load_catalogue(out)
    assert items["440605-SCJ-001"].promised_days == 3 and items["440605-SCJ-001"].legal_days == 15
    assert items["440605-MZJ-006"].dept_code == "440605MZJ"
    assert items["440605-SCJ-002"].legal_basis == BASIS

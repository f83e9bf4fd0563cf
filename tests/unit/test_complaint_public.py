"""公开回复 show no personal data: what a citizen or a clerk typed is masked, case numbers are not."""

from __future__ import annotations

import pytest

from hub.complaint_public import mask_personal


@pytest.mark.parametrize(("text", "names", "shown"), [
    ("电话13812345678", (), "电话138****5678"),
    ("身份证44060219900101123X。", (), "身份证440602********123X。"),
    ("座机0757-83381234或020 12345678", (), "座机0757-********或020-********"),
    ("邮箱 li.si+a@example.com.cn", (), "邮箱 ***@***"),
    ("我是王小明，王小明的电话", ("王小明",), "我是王**，王**的电话"),
    ("联系人李四", ("李四", None, " "), "联系人李*"),
])
def test_personal_data_is_masked(text, names, shown):
    assert mask_personal(text, names) == shown


def test_case_numbers_dates_and_amounts_stay_readable():
    text = "办件44060500000000054于2026-11-20受理，收费20.00元，第3号窗口，承诺10个工作日。"
    assert mask_personal(text, ["张"]) == text  # a one-character "name" masks nothing

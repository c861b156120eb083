"""Responsible departments and quantitative targets, from clause text and as records."""

from __future__ import annotations

import pytest

from compare.ingest.segment import clauses
from compare.ingest.structure import (
    ROLE_LEAD,
    ROLE_RESPONSIBLE,
    ROLE_SUPPORT,
    clause_departments,
    clause_targets,
    departments,
    targets,
)
from compare.records import ClauseKind
from tests.test_extract import extracted


def _roles(text: str) -> list[tuple[str, str]]:
    return [(d.name, d.role) for d in departments(text)]


def test_departments_and_their_roles():
    assert _roles("……服务。（省科技厅、贵阳市政府负责）") == [
        ("省科技厅", ROLE_RESPONSIBLE),
        ("贵阳市政府", ROLE_RESPONSIBLE),
    ]
    assert _roles("……应用。（省经济和信息化委牵头，省科技厅配合）") == [
        ("省经济和信息化委", ROLE_LEAD),
        ("省科技厅", ROLE_SUPPORT),
    ]
    assert _roles("……。（责任单位：省经信委牵头，省商务厅、省科技厅配合）") == [
        ("省经信委", ROLE_LEAD),
        ("省商务厅", ROLE_SUPPORT),
        ("省科技厅", ROLE_SUPPORT),
    ]
    assert _roles("……。（牵头单位：省商务厅；配合单位：省农委）") == [
        ("省商务厅", ROLE_LEAD),
        ("省农委", ROLE_SUPPORT),
    ]
    assert _roles("……督查。（各市〔州〕人民政府、贵安新区管委会负责）") == [
        ("各市〔州〕人民政府", ROLE_RESPONSIBLE),
        ("贵安新区管委会", ROLE_RESPONSIBLE),
    ]
    assert _roles("……。（省发展改革委、省财政厅）") == [
        ("省发展改革委", ROLE_RESPONSIBLE),
        ("省财政厅", ROLE_RESPONSIBLE),
    ]


@pytest.mark.parametrize(
    "text", ["推广RFID（射频识别）", "建设平台（以下简称平台）。", "加强监管（试行）", "没有括号。"]
)
def test_parentheses_that_are_not_departments(text):
    assert departments(text) == ()


def test_targets_with_indicator_value_unit_and_year():
    [target] = targets("到2018年，全省固定宽带家庭普及率达到70%。")
    assert (target.indicator, target.value, target.unit, target.year) == (
        "固定宽带家庭普及率",
        70.0,
        "%",
        2018,
    )
    assert target.text == "到2018年，全省固定宽带家庭普及率达到70%"
    found = targets(
        "到2017年，行政村光纤通达率和4G网络覆盖率达到100%；电子商务交易额突破1500亿元，"
        "建成“互联网+”示范园区10个以上、应用示范项目100个以上。"
    )
    assert [(t.indicator, t.value, t.unit, t.year) for t in found] == [
        ("行政村光纤通达率", 100.0, "%", 2017),
        ("4G网络覆盖率", 100.0, "%", 2017),
        ("电子商务交易额", 1500.0, "亿元", 2017),
        ("“互联网+”示范园区", 10.0, "个", 2017),
        ("应用示范项目", 100.0, "个", 2017),
    ]
    [built] = targets("3.推进信息进村入户。2017年建成村级益农信息社5000个。")
    assert (built.indicator, built.value, built.unit, built.year) == ("村级益农信息社", 5000.0, "个", 2017)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("到2018年全省众创空间面积超过300万平方米。", [("众创空间面积", 300.0, "万平方米", 2018)]),
        ("推动行政审批事项网上办理率2018年达到90%。", [("推动行政审批事项网上办理率", 90.0, "%", 2018)]),
        (
            "到2018年，全省“互联网+”领域发明专利拥有量达到1.5万件。",
            [("“互联网+”领域发明专利拥有量", 1.5, "万件", 2018)],
        ),
        ("到2018年，互联网省际出口带宽达到8T以上。", [("互联网省际出口带宽", 8.0, "T", 2018)]),
        (
            "全省电子商务年交易规模超过1.5万亿元，其中网上零售3000亿元。",
            [("电子商务年交易规模", 1.5, "万亿元", None), ("网上零售", 3000.0, "亿元", None)],
        ),
        ("到2017年，新建各类众创空间300家以上。", [("各类众创空间", 300.0, "家", 2017)]),
        ("到2017年累计推广应用工业机器人2万台。", [("工业机器人", 2.0, "万台", 2017)]),
        ("每年创建农村电子商务示范县10个以上。", [("农村电子商务示范县", 10.0, "个", None)]),
    ],
    ids=[
        "year-inside",
        "year-after-indicator",
        "scale-word",
        "bandwidth",
        "part-of-total",
        "new-build",
        "promote",
        "yearly",
    ],
)
def test_targets_keep_scale_words_in_the_unit_and_find_the_year(text, expected):
    assert [(t.indicator, t.value, t.unit, t.year) for t in targets(text)] == expected


def test_dates_and_plain_numbers_are_not_targets():
    assert targets("2016年3月15日") == ()
    assert targets("（国发〔2015〕40号）") == ()
    assert targets("推进“十三五”规划实施。") == ()


def test_records_for_a_document():
    found = clauses("clean", extracted("clean-text"))
    by_id = {c.clause_id: c for c in found}
    records = clause_departments(found)
    parts = [c for c in found if c.path.startswith("二.（一）.2#")]
    for part in parts:  # the parts of a split item share its departments
        assert {(d.name, d.role) for d in records if d.clause_id == part.clause_id} == {
            ("省工业和信息化委", ROLE_RESPONSIBLE),
            ("省通信管理局", ROLE_RESPONSIBLE),
        }
    assert all(by_id[d.clause_id].kind not in (ClauseKind.BOILERPLATE, ClauseKind.HEADING) for d in records)
    goal = next(c for c in found if c.kind == ClauseKind.GOAL)
    goal_targets = [t for t in clause_targets(found) if t.clause_id == goal.clause_id]
    assert ("固定宽带家庭普及率", 70.0, "%", 2018) in [
        (t.indicator, t.value, t.unit, t.year) for t in goal_targets
    ]
    assert ("电子商务交易额", 5000.0, "亿元", 2018) in [
        (t.indicator, t.value, t.unit, t.year) for t in goal_targets
    ]

"""Evidence must say something: fragments, table rows, annexes and regulation articles in segmentation.

Real documents from corpora/annexes and corpora/negatives: a plan with its task-division
table (hunan-2015-86-division), with a project list (guizhou-2015-35-projects), with an
unrelated plan issued by the same notice (chengdu-2016-12-attachment), a standards guide
whose tables come out as runs of lone cells (miit-2018-154-standards) and a government rule
in 第一章/第一条 form (shanxi-2019-credit-measures).
"""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path

import pytest

from compare.ingest.extract import pages
from compare.ingest.fragments import is_fragment
from compare.ingest.normalize import for_matching
from compare.ingest.numbering import article_marker_of, marker_of
from compare.ingest.segment import clauses, in_annex
from compare.ingest.structure import ROLE_LEAD, ROLE_RESPONSIBLE, ROLE_SUPPORT, clause_departments
from compare.records import Clause, ClauseKind, Page

CORPORA = Path(__file__).resolve().parents[1] / "corpora"
DIVISION_TITLE = "湖南省实施“互联网+”三年行动计划重点任务分工表"
DIVISION_HEADER = "序号 | 重点任务 | 牵头单位 | 配合单位 | 完成时限"
#: Share of the labelled items with a measure that must be found as clauses by their text.
MIN_FOUND_SHARE = 0.97


@cache
def _clauses(folder: str, stem: str) -> tuple[Clause, ...]:
    return clauses(stem, pages(CORPORA / folder / f"{stem}.pdf"))


def _labels(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(row["item_text"].strip(), row["measure_ids"].strip()) for row in reader]


def _key(text: str) -> str:
    return re.sub(r"\s", "", for_matching(text))


# ---- fragments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "33",
        "AA",
        "AA通用",
        "AE评价",
        "GB/T 12345-2018",
        "GB/T 30976.1-2014",
        "20173702-T-339",
        "已发布",
        "制定中",
        "序号",
        "省委。",
        "工业和信息化部",
        "智能制造能力成熟度评估方法",
        "工业控制系统信息安全第1部分：评估规范",
        "表2智能制造基础共性和关键技术标准（部分）",
        "海峡电子商务产业园",
        "公共数据开放平台",
        "学前教育毛入园率（%） | 90.5 | ≥92 | 预期性",
        "5 | 智慧社区 | 省民政厅 | 2017年底",
    ],
)
def test_numbers_codes_standard_numbers_names_and_lone_cells_are_fragments(text):
    assert is_fragment(text)


@pytest.mark.parametrize(
    "text",
    [
        "1.农村电商。实施电子商务进农村工程，2017年电商服务站行政村覆盖率达到50%，推动“黔货出山”。"
        "（省商务厅牵头，省供销社、省农委配合）",
        "3.电商质量监管。建立网售商品质量追溯和在线维权机制。（省工商局、省质监局负责）",
        "2.智能仓储。在贵阳、遵义等物流园区推广RFID、二维码等智能仓储技术。（省商务厅负责）",
        "支持重点项目建设",
        "鼓励社会资本参与",
        "一是培育大数据龙头企业",
        "——建设海峡电子商务产业园",
        "市财政每年安排专项资金",
        "全市光纤宽带覆盖全部行政村",
        "电子商务交易额突破3000亿元",
        "推进电力光纤到户工程",
        "15 | 推进电力光纤到户工程 | 国网湖南省电力公司 | 省通信管理局、省能源局 | 2017年底",
        "第二十三条本办法自2020年1月1日起施行。",
    ],
)
def test_short_but_meaningful_items_are_not_fragments(text):
    assert not is_fragment(text)


#: Label files with items that carry a measure (the plans, their annexed copies, the related policies).
LABELLED = [
    path
    for folder in ("provincial", "annexes", "negatives")
    for path in sorted((CORPORA / folder).glob("*.labels.tsv"))
    if any(ids != "none" for _, ids in _labels(path))
]


@pytest.mark.slow
@pytest.mark.parametrize("labels", LABELLED, ids=lambda p: p.name.split(".")[0])
def test_no_labelled_item_with_a_measure_is_a_fragment_or_any_other_non_measure(labels):
    stem = labels.name.split(".")[0]
    found = _clauses(labels.parent.name, stem)
    kinds: dict[str, set[ClauseKind]] = {}
    for clause in found:
        kinds.setdefault(_key(clause.text), set()).add(clause.kind)
    parts: dict[str, list[Clause]] = {}
    for clause in found:
        if "#" in clause.path:
            parts.setdefault(clause.path.split("#")[0], []).append(clause)
    for group in parts.values():
        kinds.setdefault(_key("".join(c.text for c in group)), set()).update(c.kind for c in group)
    with_measure = [text for text, ids in _labels(labels) if ids != "none"]
    located = [kinds[_key(text)] for text in with_measure if _key(text) in kinds]
    assert len(located) >= MIN_FOUND_SHARE * len(with_measure)
    assert all(k == {ClauseKind.MEASURE} for k in located)


@pytest.mark.slow
def test_the_standards_guide_s_table_cells_are_fragments():
    found = _clauses("negatives", "miit-2018-154-standards")
    by_text = {c.text: c for c in found}
    for cell in ("AA", "通用", "AE", "评价", "GB/T 37695-2019", "20173702-T-339", "已发布", "1", "标准名称"):
        assert by_text[cell].kind == ClauseKind.FRAGMENT, cell
    names = [text for text, _ in _labels(CORPORA / "negatives" / "miit-2018-154-standards.labels.tsv")]
    cells = [c for c in found if _key(c.text) in {_key(n) for n in names if len(n) < 30}]
    assert len(cells) >= 15  # the standard-name cells of 表2
    assert all(c.kind == ClauseKind.FRAGMENT for c in cells), [c.text for c in cells if c.kind != "fragment"]


# ---- table rows and annexes ------------------------------------------------------------------


def test_every_division_table_row_is_one_measure_clause_inside_the_annex():
    found = _clauses("annexes", "hunan-2015-86-division")
    rows = [
        text
        for text, _ in _labels(CORPORA / "annexes" / "hunan-2015-86-division.labels.tsv")
        if " | " in text
    ]
    assert len(rows) == 37
    by_text = {c.text: c for c in found}
    for row in rows:
        clause = by_text[row]
        assert clause.kind == ClauseKind.MEASURE and in_annex(clause), row
        assert clause.path.startswith("附件1+") and clause.heading == f"附件1：{DIVISION_TITLE}"
    # the task alone is matched, without its number, departments and deadline
    first = by_text[rows[0]]
    assert first.text_norm == for_matching(
        "推动基础电信企业和骨干互联网企业向小微企业和创业团队开放平台入口、数据信息和计算能力等资源"
    )
    # nothing of the annex follows on the plan's last item
    assert not [c.text for c in found if c.path.startswith("三.（七）.3+")]
    assert [c.text for c in found if c.path == "附件1"] == ["附件", DIVISION_TITLE]


def test_table_header_rows_are_never_measures_and_repeated_ones_are_boilerplate():
    found = _clauses("annexes", "hunan-2015-86-division")
    headers = [c for c in found if c.text == DIVISION_HEADER]
    assert len(headers) == 4  # printed on each of the table's four pages
    assert headers[0].kind == ClauseKind.HEADING and headers[0].path == "附件1+1"
    assert all(h.kind == ClauseKind.BOILERPLATE and h.path == "" for h in headers[1:])
    projects = _clauses("annexes", "guizhou-2015-35-projects")
    header = [c for c in projects if c.text.startswith("序号 | 项目名称")]
    assert [c.kind for c in header] == [ClauseKind.HEADING, ClauseKind.BOILERPLATE, ClauseKind.BOILERPLATE]


def test_division_rows_name_their_lead_and_support_departments():
    found = _clauses("annexes", "hunan-2015-86-division")
    row = next(c for c in found if c.text.startswith("1 | 推动基础电信企业"))
    named = [(d.name, d.role) for d in clause_departments(found) if d.clause_id == row.clause_id]
    assert named == [("省经信委", ROLE_LEAD), ("省科技厅", ROLE_SUPPORT), ("省通信管理局", ROLE_SUPPORT)]
    projects = _clauses("annexes", "guizhou-2015-35-projects")
    row = next(c for c in projects if c.text.startswith("11 | 货车帮"))
    named = [(d.name, d.role) for d in clause_departments(projects) if d.clause_id == row.clause_id]
    assert named == [("省交通运输厅", ROLE_RESPONSIBLE), ("贵阳市政府", ROLE_RESPONSIBLE)]


def test_a_project_list_annex_has_its_title_and_its_rows():
    found = _clauses("annexes", "guizhou-2015-35-projects")
    annex = [c for c in found if in_annex(c)]
    assert [c.kind for c in annex[:3]] == [ClauseKind.HEADING] * 3  # 附件, title, （2015—2017年）
    rows = [c for c in annex if c.kind == ClauseKind.MEASURE]
    assert len(rows) == 21
    assert all(c.heading == "附件1：贵州省“互联网+”重大项目清单（2015—2017年）" for c in rows)
    assert not [c for c in found if c.path.startswith("四.（八）+")]


def test_an_unrelated_attachment_after_the_plan_is_an_annex():
    found = _clauses("annexes", "chengdu-2016-12-attachment")
    start = next(i for i, c in enumerate(found) if c.text == "成都市2016年植树绿化工作方案")
    plan, attachment = found[:start], [c for c in found[start:] if c.kind != ClauseKind.BOILERPLATE]
    assert not any(in_annex(c) for c in plan)
    assert attachment and all(in_annex(c) for c in attachment)
    assert all(c.heading.startswith("附件1：成都市2016年植树绿化工作方案") for c in attachment[1:])
    assert {c.path for c in attachment} >= {
        "附件1",
        "附件1+1",
        "附件1.一",
        "附件1.二.（一）",
        "附件1.三.（三）",
    }
    numbered = [c.path for c in found if c.path and "+" not in c.path and c.kind != ClauseKind.HEADING]
    assert len(numbered) == len(set(numbered))  # the attachment's 二.（一） is not the plan's


def _page(number: int, *lines: str) -> Page:
    return Page(number, "\n".join(lines), "pdfplumber")


def test_annex_lines_numbered_or_not_with_or_without_a_title():
    wrapper = (
        "湘政办发〔2015〕86号",
        "湖南省人民政府办公厅关于印发《湖南省实施“互联网+”三年行动计划》的通知",
        "各市州人民政府，省政府各厅委、各直属机构：",
        "现将《湖南省实施“互联网+”三年行动计划》印发给你们，请认真贯彻执行。",
        "附件",  # the plan itself is the notice's 附件: no annex
        "湖南省实施“互联网+”三年行动计划",
    )
    plan = (
        "一、重点任务",
        "1.发展农村电子商务。建设县级电子商务服务中心。（省商务厅负责）",
        "2.推进智能制造。建设数字化车间和智能工厂。（省经信委负责）",
        "湖南省人民政府办公厅",
        "2015年10月11日",
    )
    annexes = (
        "附件1：重点任务分工表",
        "序号 | 重点任务 | 牵头单位 | 完成时限",
        "1 | 建设县级电子商务服务中心和村级服务站 | 省商务厅 | 2016年底",
        "附件2",
        "重点项目清单",
        "一、基础设施",
        "（一）建设宽带网络。推进光纤到户和4G网络覆盖。",
    )
    found = clauses("d", (_page(1, *wrapper, *plan), _page(2, *annexes)))
    assert not any(in_annex(c) for c in found if c.page == 1)
    assert [c.path for c in found if c.text.startswith(("1.发展", "2.推进"))] == ["一.1", "一.2"]
    paths = [(c.path, c.kind, c.heading) for c in found if in_annex(c)]
    assert paths == [
        ("附件1", ClauseKind.HEADING, ""),
        ("附件1+1", ClauseKind.HEADING, "附件1：重点任务分工表"),
        ("附件1+2", ClauseKind.MEASURE, "附件1：重点任务分工表"),
        ("附件2", ClauseKind.HEADING, ""),
        ("附件2", ClauseKind.HEADING, ""),
        ("附件2.一", ClauseKind.HEADING, "附件2：重点项目清单"),
        ("附件2.一.（一）", ClauseKind.MEASURE, "附件2：重点项目清单 > 一、基础设施"),
    ]
    row = next(c for c in found if c.path == "附件1+2")
    assert row.text_norm == "建设县级电子商务服务中心和村级服务站"


def test_a_document_title_at_the_top_of_a_page_starts_an_annex_a_heading_inside_the_plan_does_not():
    found = clauses(
        "d",
        (
            _page(
                1,
                "一、重点任务",
                "1.发展农村电子商务。建设县级电子商务服务中心。（省商务厅负责）",
                "保障措施",
                "各地要加强组织领导，落实工作责任。",
            ),
            _page(2, "苏州市数字经济发展工作方案", "一、发展目标", "到2018年，建成一批数字经济平台。"),
        ),
    )
    assert [(c.path, in_annex(c)) for c in found] == [
        ("一", False),
        ("一.1", False),
        ("一.1+1", False),
        ("一.1+2", False),
        ("附件1", True),
        ("附件1.一", True),
        ("附件1.一+1", True),
    ]
    assert found[-1].heading == "附件1：苏州市数字经济发展工作方案 > 一、发展目标"


# ---- regulations -------------------------------------------------------------------------------


def test_article_markers_are_read_apart_from_the_plan_numbering():
    assert marker_of("第一条为了规范公共信用信息管理") is None
    article = article_marker_of("第十二条\u3000公共信用信息通过公开")
    assert article is not None and article.label == "第十二条" and article.length == 5
    chapter = article_marker_of("第三章信息披露与使用")
    assert chapter is not None and chapter.label == "第三章" and chapter.level < article.level
    assert article_marker_of("第一，加强组织领导。") is None


def test_regulation_articles_are_items_of_their_own():
    found = _clauses("negatives", "shanxi-2019-credit-measures")
    by_path = {c.path: c for c in found}
    assert by_path["第一章"].kind == ClauseKind.HEADING and by_path["第一章"].text == "第一章总则"
    assert all(by_path[f"第一章.第{n}条"].kind == ClauseKind.PRINCIPLE for n in "一二三四五六")
    for path in ("第二章.第七条", "第三章.第十二条", "第三章.第十三条", "第三章.第十四条"):
        assert by_path[path].kind == ClauseKind.MEASURE, path
    assert by_path["第二章.第九条.（二）"].text.startswith("（二）受到行政处罚的信息")
    assert by_path["第二章.第十条"].heading == "第二章信息归集"
    articles = [c for c in found if "条" in c.path]
    assert len(articles) == 23 + 4 and not any("+" in c.path for c in articles)

"""Fragments: clauses too short or too bare to state a measure, which are never evidence.

Real documents hold lines that segmentation must keep (no text is lost) but that cannot
implement anything: a lone number (``33``), a code (``AA``, ``AA通用``, ``AE评价``), a
standard or plan number (``GB/T 37695-2019``, ``20173702-T-339``), a status word
(``已发布``), a caption (``表2智能制造基础共性和关键技术标准（部分）``), a standard's name
or a project's name standing alone in a table cell (``智能制造能力成熟度评估方法``,
``海峡电子商务产业园``), an indicator row of a target table. ``is_fragment`` says which.

It reads the clause's *content*: its text without the numbering that opens it (一、,
（一）, 1., 第一条, 一是, ——) and without the departments in the parentheses that close it;
of a table row, the cells that are neither a serial number nor a date (2016年底, 持续推进)
nor without Chinese (12.0, GB/T 37695-2019). Segmentation passes a row whose table header
it knows as its task cells alone (``compare.ingest.tables.row_text_for_matching``), which drops
the department columns too. A clause is a fragment when its content

1. has fewer than ``MIN_CONTENT_CJK`` Chinese characters (letters, digits and signs do not
   count: a standard number has none), or
2. is one phrase (no comma, full stop or semicolon inside) of fewer than
   ``MAX_VERBLESS_CJK`` Chinese characters with no predicate: none of ``ACTION_VERBS``,
   the verbs items of plans and rules are written with, or, when the phrase ends like a
   name (``NAME_HEADS``: 平台, 中心, 工程 …), none at its start (``公共数据开放平台`` is a
   name, ``建设数据开放平台`` a task).

The verb list only decides for short bare phrases; a longer text or one of several
clauses is never a fragment, so a measure whose verb is missing from the list stays a
measure. The shortest instruction of the sample plans that keeps its sense, ``支持重点项目建设``
(support key projects), has 8 characters: that is ``MIN_CONTENT_CJK``.
"""

from __future__ import annotations

import re

from compare.ingest.normalize import simplified
from compare.ingest.numbering import article_marker_of, marker_of
from compare.ingest.structure import departments, trailing_parenthesis
from compare.ingest.tables import cells, is_table_row

#: Content with fewer Chinese characters than this says too little to implement a measure.
MIN_CONTENT_CJK = 8
#: A single phrase without a predicate shorter than this (in Chinese characters) is a name,
#: a caption or a heading, not a statement: 工业控制系统信息安全第1部分：评估规范 has 16.
MAX_VERBLESS_CJK = 25
#: Verbs that make a phrase a statement of what is to be done (or, in a rule, of what must be).
#: Words that are as often nouns (应用, 管理, 服务, 评估, 检测, 监测) are left out: standards
#: and project names are built of them.
ACTION_VERBS: tuple[str, ...] = (
    "建设", "建立", "建成", "构建", "搭建", "打造", "培育", "培养", "发展", "推进", "推动",
    "推广", "推行", "促进", "实施", "实现", "开展", "加强", "加快", "加大", "完善", "健全",
    "提升", "提高", "优化", "强化", "深化", "扩大", "拓展", "支持", "鼓励", "引导", "引进",
    "规范", "制定", "修订", "落实", "保障", "提供", "覆盖", "开放", "共享", "整合", "利用",
    "依托", "探索", "创建", "设立", "组织", "统筹", "形成", "达到", "突破", "超过", "增长",
    "降低", "减少", "新增", "新建", "改造", "升级", "普及", "融合", "开发", "部署", "接入",
    "培训", "保护", "防范", "应当", "不得", "禁止", "可以", "负责", "依法", "遵循", "施行",
    "执行", "安排",
)  # fmt: skip

#: How names of things end (a platform, a centre, a project, a standard). A bare phrase that
#: ends so is a name even with a verb inside (公共数据开放平台, 北斗综合应用平台), unless the
#: verb opens it (建设海峡电子商务产业园, 推进电力光纤到户工程).
NAME_HEADS: tuple[str, ...] = (
    "平台", "中心", "系统", "网络", "工程", "项目", "基地", "园区", "园", "小镇", "试点", "示范点",
    "示范区", "试验区", "服务站", "站", "馆", "库", "院", "工厂", "节点", "体系", "架构", "模型",
    "方法", "要求", "规范", "条件", "术语", "标准", "指南", "清单", "表",
)  # fmt: skip

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
#: Punctuation that ends or separates clauses inside a text (a phrase has none inside).
_CLAUSE_PUNCTUATION = re.compile(r"[，,。；;！？!?]")
#: Numbering that is no numbering marker: 一是 / 第一， / —— / bullets.
_LEAD = re.compile(r"^(?:[一二三四五六七八九十]是|第[一二三四五六七八九十][，,、]|——|[●•·▪■◆])\s*")
_SERIAL = re.compile(r"^[\d０-９]{1,3}$")
#: A cell that only dates a row: 2016年底, 2015—2017, 2016年3月底, 持续推进, 每年.
_TIME_CELL = re.compile(
    r"^(?:[\d０-９.\s年月日底前内末中起至到—\-－–～~、/季度上下半]+|持续推进|长期坚持|长期|每年|逐年推进|持续实施)$"
)


def _cjk_count(text: str) -> int:
    return len(_CJK.findall(text))


def _without_numbering(text: str) -> str:
    marker = marker_of(text) or article_marker_of(text)
    rest = text[marker.length :] if marker else text
    return _LEAD.sub("", rest.strip())


def _without_departments(text: str) -> str:
    found = trailing_parenthesis(text)
    if found is not None and departments(text):
        return text[: found[0]]
    return text


def _content_cells(text: str) -> list[str]:
    """The parts of a clause that could state something (a row's cells without serial numbers and dates)."""
    if not is_table_row(text):
        return [_without_departments(_without_numbering(text))]
    return [
        cell
        for cell in cells(text)
        if _cjk_count(cell) and not _SERIAL.match(cell) and not _TIME_CELL.match(cell)
    ]


def is_fragment(text: str) -> bool:
    """Whether a clause's text is too short or too bare to implement a measure (see the module's rules)."""
    content = [simplified(cell).strip().rstrip("。；;：:") for cell in _content_cells(text.strip())]
    characters = sum(_cjk_count(cell) for cell in content)
    if characters < MIN_CONTENT_CJK:
        return True
    if characters >= MAX_VERBLESS_CJK or any(_CLAUSE_PUNCTUATION.search(cell) for cell in content):
        return False
    return not any(_has_predicate(cell) for cell in content)


def _has_predicate(phrase: str) -> bool:
    """Whether a bare phrase states something: it has an action verb, at its start when it ends like a name."""
    if phrase.endswith(NAME_HEADS):
        return phrase.startswith(ACTION_VERBS)
    return any(verb in phrase for verb in ACTION_VERBS)

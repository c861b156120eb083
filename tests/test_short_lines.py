"""Documents whose lines are mostly short: lists, headings without punctuation, project annexes.

``short-lines-flush.pdf`` sets every paragraph flush left, ``short-lines-indented.pdf``
indents their first lines; in both, most pages hold no line that runs to the right margin
(and in the indented one, none that starts at the left margin), and a few wrapped
paragraphs (one over a page break) sit among the short lines. Every paragraph of the
source comes out as a paragraph of its own and as a clause of its own, its text unchanged.
"""

from __future__ import annotations

import pytest
from scripts import render_fixtures

from compare.ingest import layout
from compare.ingest.layout import Line, Margins
from compare.ingest.segment import clauses, paragraphs
from compare.records import Page
from tests.test_extract import SOURCES, extracted

FIXTURES = ("short-lines-flush", "short-lines-indented")
#: Geometry of the synthetic lines below: a 公文 text box, 28 characters of 16 pt.
SIZE, LEFT, RIGHT, PITCH = 16.0, 73.6, 521.6, 29.0


def _source_paragraphs(name: str) -> list[str]:
    blocks = render_fixtures.parse_source((SOURCES / f"{name}.txt").read_text(encoding="utf-8"))
    return [block.text for block in blocks if block.kind in ("title", "body")]


@pytest.mark.parametrize("name", FIXTURES)
def test_every_source_paragraph_is_one_paragraph(name):
    found = extracted(name)
    assert len(found) >= 5 and {page.method for page in found} == {"pdfplumber"}
    assert [p.text for p in paragraphs(found)] == _source_paragraphs(name)


@pytest.mark.parametrize("name", FIXTURES)
def test_every_source_paragraph_is_one_clause_with_its_text(name):
    found = clauses(name, extracted(name))
    assert [c.text for c in found] == _source_paragraphs(name)
    by_text = {c.text: c for c in found}
    assert by_text["4.数据共享交换平台"].path == "二.（一）.4"
    assert by_text["第二条本方案由市发展改革委负责解释"].path == "五+2"


def test_the_right_margin_comes_from_the_few_full_lines_not_from_the_many_short_ones():
    found = extracted("short-lines-flush")
    # the longest list line of the short pages is not taken for a full line that wraps
    assert "\n到2018年，基本建成数字福州框架\n全市光纤宽带覆盖全部行政村\n" in found[0].text
    # a wrapped paragraph still joins, also over a page break
    assert found[0].text.endswith("做大做强") and found[1].text.startswith("软件和信息服务业")
    texts = [c.text for c in clauses("short-lines-flush", found)]
    assert any(t.startswith("（三）数字经济。") and t.endswith("重点抓好三项工作：") for t in texts)


def _line(text: str, row: int, x0: float = LEFT, x1: float | None = None) -> Line:
    top = 100.0 + row * PITCH
    return Line(
        text=text,
        x0=x0,
        x1=x0 + len(text) * SIZE if x1 is None else x1,
        top=top,
        bottom=top + SIZE,
        size=SIZE,
    )


def test_a_numbered_line_starts_a_paragraph_even_after_a_line_that_runs_to_the_margin():
    edges = Margins(left=LEFT, right=RIGHT, size=SIZE)
    item = [
        _line("（三）强化考核评估。将数字福州建设纳入各县（市）区和市直", 0, x1=RIGHT),
        _line("部门绩效考评体系，对工作不力的单位进行约谈。（市效能办负责）", 1, x1=RIGHT),
    ]
    assert layout.paragraphs([*item, _line("四、重点项目清单", 2)], edges) == [
        "".join(line.text for line in item),
        "四、重点项目清单",
    ]


def test_an_article_or_bullet_line_starts_a_paragraph_after_a_finished_sentence_only():
    edges = Margins(left=LEFT, right=RIGHT, size=SIZE)
    lines = [
        _line("（四）产业园区。园区建设和管理按照《福州市产业园区管理办法》", 0, x1=RIGHT),
        _line("第五条规定执行，完善园区基础设施和公共服务配套，建设以下园区：", 1, x1=RIGHT),
        _line("——建设海峡电子商务产业园", 2),
        _line("——建设马尾物联网产业基地", 3),
    ]
    assert layout.paragraphs(lines, edges) == [
        lines[0].text + lines[1].text,  # 第五条 inside a sentence runs on
        "——建设海峡电子商务产业园",
        "——建设马尾物联网产业基地",
    ]


def test_a_short_last_paragraph_is_not_continued_on_the_next_page():
    pages = (
        Page(1, "二、重点任务\n（三）数字经济\n（四）数字产业园区建设清单\n海峡电子商务产业园", "pdfplumber"),
        Page(2, "一是马尾物联网产业基地\n长乐数字经济小镇", "pdfplumber"),
    )
    assert [p.text for p in paragraphs(pages)] == [
        "二、重点任务",
        "（三）数字经济",
        "（四）数字产业园区建设清单",
        "海峡电子商务产业园",
        "一是马尾物联网产业基地",
        "长乐数字经济小镇",
    ]

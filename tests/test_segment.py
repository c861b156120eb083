"""Segmentation: golden clause lists of the fixtures, offsets, splitting, and invariants."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compare.ingest.segment import clauses, full_text
from compare.records import ClauseKind, Page
from tests.test_extract import OCR_FIXTURES, extracted

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
TEXT_GOLDENS = sorted(p.stem for p in GOLDEN.glob("*.json") if p.stem not in OCR_FIXTURES)


@pytest.mark.parametrize("name", TEXT_GOLDENS)
def test_fixture_clauses_match_their_golden_list(name):
    golden = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    found = extracted(name)
    assert [p.method for p in found] == golden["methods"]
    got = [
        {"path": c.path, "kind": str(c.kind), "page": c.page, "text": c.text} for c in clauses(name, found)
    ]
    assert got == golden["clauses"]


@pytest.mark.parametrize("name", TEXT_GOLDENS)
def test_offsets_point_at_the_clause_text(name):
    found = extracted(name)
    text = full_text(found)
    starts = [0]
    for page in found:
        starts.append(starts[-1] + len(page.text) + 1)
    for clause in clauses(name, found):
        assert re.sub(r"\s", "", text[clause.char_start : clause.char_end]) == re.sub(r"\s", "", clause.text)
        page_index = next(i for i in range(len(found)) if starts[i] <= clause.char_start < starts[i + 1])
        assert found[page_index].number == clause.page


def test_notice_wrapper_is_boilerplate_and_red_header_and_cc_block_are_no_clauses():
    pages = extracted("clean-text")
    found = clauses("clean", pages)
    boilerplate = [c.text for c in found if c.kind == ClauseKind.BOILERPLATE]
    assert boilerplate[0] == "赣府发〔2016〕9号" and "（此件公开发布）" in boilerplate
    assert boilerplate[-1] == "（此件公开发布）"
    assert all(c.kind != ClauseKind.BOILERPLATE for c in found if c.path)
    assert not [
        c.text
        for c in found
        if c.text in ("江西省人民政府文件",) or c.text.startswith("抄送") or c.text.endswith("印发")
    ]
    page_text = full_text(pages)  # kept in the pages, where the metadata reads them
    assert "江西省人民政府文件" in page_text and "抄送：" in page_text


def test_an_item_that_enumerates_measures_is_split_and_a_plain_one_is_not():
    found = {c.path: c for c in clauses("clean", extracted("clean-text"))}
    parts = [found[f"二.（一）.2#{n}"] for n in (1, 2, 3)]
    assert parts[0].text.startswith("2.发展工业互联网。一是") and parts[1].text.startswith("二是")
    assert parts[2].text.endswith("（省工业和信息化委、省通信管理局负责）")
    assert found["二.（三）.2#2"].text.startswith("②推动优质数字教育资源")
    assert "二.（一）.1" in found and not any(p.startswith("二.（一）.1#") for p in found)
    # "；" alone does not split: several tasks of one item stay one clause
    assert "二.（一）.1" in found and "二.（二）.2" in found


def test_heading_chain_and_kinds():
    found = {c.path: c for c in clauses("clean", extracted("clean-text"))}
    assert found["二.（三）.1.（2）"].heading == "二、重点行动 > （三）“互联网+”益民服务。 > 1.推进智慧医疗"
    assert found["一.（一）"].kind == ClauseKind.PRINCIPLE
    assert found["一.（二）"].kind == ClauseKind.GOAL
    assert found["二.（三）"].kind == ClauseKind.HEADING
    assert found["三.（二）"].kind == ClauseKind.MEASURE


def test_a_paragraph_over_a_page_break_is_one_clause():
    pages = (
        Page(1, "一、重点任务\n\u3000\u30001.推进智能制造。在装备制造等行业建设一批数字化车间", "pdfplumber"),
        Page(2, "和智能工厂。（省经信委负责）\n\u3000\u30002.发展工业云。建设工业云平台。", "pdfplumber"),
    )
    found = clauses("d", pages)
    assert [c.path for c in found] == ["一", "一.1", "一.2"]
    assert found[1].text == "1.推进智能制造。在装备制造等行业建设一批数字化车间和智能工厂。（省经信委负责）"
    assert found[1].page == 1 and found[2].page == 2


def test_an_indented_document_continues_a_page_that_ends_a_sentence():
    pages = (
        Page(1, "一、重点任务\n\u3000\u30001.打造众创空间。支持高校建设创客空间。", "pdfplumber"),
        Page(
            2, "到2017年，全省众创空间达到300家。（省科技厅负责）\n\u3000\u30002.做强技术市场。", "pdfplumber"
        ),
    )
    found = clauses("d", pages)
    assert found[1].text.endswith("到2017年，全省众创空间达到300家。（省科技厅负责）")


_CJK = st.sampled_from(list("推进建设发展互联网智能制造平台服务农业电子商务数据信息创新"))
_SENTENCE = st.builds(
    lambda chars, end: "".join(chars) + end,
    st.lists(_CJK, min_size=2, max_size=30),
    st.sampled_from(["。", "；", "", "（省经信委负责）"]),
)
_MARKER = st.sampled_from(
    ["", "", "一、", "二、", "（一）", "（二）", "1.", "2.", "（1）", "①", "一是", "二是"]
)
_PARAGRAPH = st.builds(
    lambda indent, marker, body: indent + marker + "".join(body),
    st.sampled_from(["", "\u3000\u3000"]),
    _MARKER,
    st.lists(_SENTENCE, min_size=1, max_size=4),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_PARAGRAPH, min_size=1, max_size=6), min_size=1, max_size=4))
def test_segmentation_loses_no_text_and_offsets_hold(page_paragraphs):
    pages = tuple(Page(n, "\n".join(paras), "pdfplumber") for n, paras in enumerate(page_paragraphs, start=1))
    text = full_text(pages)
    found = clauses("doc", pages)
    assert "".join(c.text for c in found).replace("\u3000", "") == re.sub(r"\s", "", text)
    assert [c.seq for c in found] == list(range(len(found)))
    assert len({c.clause_id for c in found}) == len(found)
    for clause in found:
        assert re.sub(r"\s", "", text[clause.char_start : clause.char_end]) == re.sub(r"\s", "", clause.text)
        assert 1 <= clause.page <= len(pages)

"""Extraction from text-layer PDFs: one fixture per quirk of real plan PDFs (tests/data/pdfs)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pdfplumber
import pytest
from rapidfuzz.distance import Levenshtein
from scripts import render_fixtures

from compare.ingest import layout
from compare.ingest.extract import junk_share, pages
from compare.ingest.layout import Glyph
from compare.ingest.normalize import chinese_punctuation, for_matching, unified_ideographs
from compare.ingest.segment import full_text
from compare.records import Page

PDFS = Path(__file__).resolve().parent / "data" / "pdfs"
SOURCES = PDFS / "sources"
#: Character error rate allowed on a PDF with a text layer.
MAX_TEXT_CER = 0.01
#: Fixtures that are scans (no text layer): read by OCR, held to a looser error rate.
OCR_FIXTURES = ("scanned", "variant-scan-skewed", "variant-scan-with-notice")
TEXT_FIXTURES = sorted(p.stem for p in SOURCES.glob("*.txt") if p.stem not in OCR_FIXTURES)


@cache
def extracted(name: str) -> tuple[Page, ...]:
    return pages(PDFS / f"{name}.pdf")


def character_error_rate(found: str, reference: str) -> float:
    """Edit distance between the texts without whitespace, over the reference's length."""
    found, reference = re.sub(r"\s", "", found), re.sub(r"\s", "", reference)
    return Levenshtein.distance(found, reference) / len(reference)


@pytest.mark.parametrize("name", TEXT_FIXTURES)
def test_character_error_rate_of_text_layer_fixtures(name):
    reference = render_fixtures.reference_text(SOURCES / f"{name}.txt")
    assert character_error_rate(full_text(extracted(name)), reference) <= MAX_TEXT_CER


def test_doubled_bold_characters_are_kept_once():
    with pdfplumber.open(PDFS / "doubled-bold.pdf") as pdf:
        raw = pdf.pages[0].extract_text()
    assert "安安徽徽" in raw or raw.count("安徽省") > 1  # the fixture really draws the title twice
    text = full_text(extracted("doubled-bold"))
    assert text.count("安徽省“互联网+”行动实施方案") == 1
    assert "一、基本原则" in text and "一一" not in text


def test_shadowed_lines_are_kept_once():
    text = full_text(extracted("variant-shadow-bold"))
    assert "（省旅游发展委、省商务厅负责）" in text
    assert "负责责" not in text and "））" not in text


def test_no_spaces_between_cjk_characters():
    with pdfplumber.open(PDFS / "cjk-spacing.pdf") as pdf:
        raw = pdf.pages[0].extract_text()
    assert "推 进 金 融" in raw  # spaces drawn between the characters
    text = full_text(extracted("cjk-spacing"))
    assert "2.推进金融服务下乡。推动银行业机构发展网上银行、手机银行" in text
    assert "推广ETC和交通一卡通应用" in text  # letter-spaced Latin joins too
    assert not re.search(r"[\u4e00-\u9fff] +[\u4e00-\u9fff]", text)


def test_wrapped_lines_join_into_one_paragraph_per_line():
    lines = full_text(extracted("clean-text")).split("\n")
    assert any(
        line.strip().startswith("（一）指导思想。以创新驱动发展为核心")
        and line.endswith("培育经济发展新动能。")
        for line in lines
    )


def test_running_footer_and_page_count_numbers_are_removed():
    found = extracted("variant-footer-pagecount")
    assert len(found) == 2
    text = full_text(found)
    assert "江西省人民政府办公厅发布" not in text and "共2页" not in text


def test_page_numbers_and_running_headers_are_removed():
    found = extracted("running-headers")
    assert len(found) == 2
    text = full_text(found)
    assert "福建省人民政府公报" not in text
    assert not re.search(r"^\s*-\d+-\s*$", text, re.M)
    assert "— 1 —" not in full_text(extracted("clean-text"))


def test_two_column_page_reads_column_by_column():
    text = full_text(extracted("two-column"))
    order = ["一、“互联网+”旅游", "二、“互联网+”现代农业", "三、“互联网+”益民服务", "2.发展在线教育"]
    positions = [text.index(heading) for heading in order]
    assert positions == sorted(positions)
    assert "1.推进医疗信息共享。建设全省人口健康信息平台，实现电子病历共享。" in text  # flows over the gutter


def test_table_rows_are_paragraphs_of_their_own():
    lines = [line.strip() for line in full_text(extracted("table")).split("\n")]
    assert "1 | 丝路云计算中心 | 建设数据中心和云服务平台 | 省发展改革委" in lines
    body = lines.index("重点项目安排如下表：")
    assert lines[body + 1].startswith("序号 | 项目名称")
    assert any(line.startswith("（一）加大资金投入。") for line in lines[body:])


def test_font_without_tounicode_is_read_with_pdfium():
    with pdfplumber.open(PDFS / "gbk-no-tounicode.pdf") as pdf:
        assert junk_share(pdf.pages[0].extract_text()) > 0.5  # pdfminer gives (cid:n)
    found = extracted("gbk-no-tounicode")
    assert [p.method for p in found] == ["pdfium"]
    assert "到2018年，全省固定宽带家庭普及率达到50%" in full_text(found)


def test_traditional_text_is_kept_as_printed_and_normalized_for_matching():
    text = full_text(extracted("traditional-chars"))
    assert "網際網路" in text
    assert "发展软件和信息服务业" in for_matching("2.發展軟體和資訊服務業。")
    assert for_matching("支援軟體企業開展雲端計算") == "支持软件企业开展云计算"


def test_simplified_text_keeps_its_mainland_words():
    """Taiwan-to-mainland phrase rules apply to traditional text only: a mainland plan's 文件,
    智慧城市, 建立 and 核心 are its own words."""
    text = "湖南省人民政府文件：建立智慧城市核心平台，整合资源，完善程序。"
    assert for_matching(text) == text


def test_junk_share_counts_cid_escapes_and_replacement_characters():
    assert junk_share("(cid:12)(cid:13)ab") == pytest.approx(16 / 18)
    assert junk_share("互联网\ufffd") == pytest.approx(0.25)
    assert junk_share("互联网+行动") == 0.0
    assert junk_share("   ") == 0.0


def test_page_number_forms():
    for text in ("— 3 —", "-3-", "- 12 -", "第3页", "第 3 页 共 10 页", "3/10", "·3·"):
        assert layout.is_page_number(text), text
    for text in ("3.推进智能制造", "2018年", "第三章"):
        assert not layout.is_page_number(text), text


def _glyph(text: str, x0: float, size: float = 16.0, top: float = 100.0) -> Glyph:
    return Glyph(
        text=text,
        x0=x0,
        x1=x0 + size * (0.5 if text.isascii() else 1.0),
        top=top,
        bottom=top + size,
        size=size,
    )


def test_line_text_keeps_latin_word_spaces_only():
    glyphs = [_glyph(c, 10 + 16 * i) for i, c in enumerate("推广")]
    glyphs += [_glyph("O", 50), _glyph("2", 58), _glyph("O", 66), _glyph(" ", 74), _glyph("A", 82)]
    assert layout.line_text(glyphs) == "推广O2O A"


def test_doubled_glyphs_are_dropped_but_repeated_characters_kept():
    glyphs = [_glyph("发", 10), _glyph("发", 10.4), _glyph("发", 26), _glyph("展", 42)]
    assert [g.text for g in layout.deduped(glyphs)] == ["发", "发", "展"]


def test_normalization_keeps_chinese_punctuation_and_folds_fullwidth_alphanumerics():
    assert for_matching("互联网＋行动，到２０１８年达到７０％。") == "互联网+行动，到2018年达到70%。"
    assert chinese_punctuation("(一)推进,发展") == "（一）推进，发展"
    assert unified_ideographs("⼀⼆⾏") == "一二行"
    assert for_matching("推 进 智 能 制 造") == "推进智能制造"

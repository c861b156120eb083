"""Document metadata from the head of a plan, and the not-a-plan check."""

from __future__ import annotations

import pytest

from compare.ingest.metadata import metadata, not_a_plan_reason
from compare.ingest.segment import clauses, full_text
from tests.test_extract import extracted


def test_metadata_of_a_notice_wrapped_provincial_plan():
    found = extracted("clean-text")
    meta = metadata(full_text(found), found)
    assert meta.title == "江西省“互联网+”行动计划"
    assert meta.issuer == "江西省人民政府"
    assert (meta.province, meta.city, meta.level) == ("江西", None, "province")
    assert meta.doc_number == "赣府发〔2016〕9号"
    assert meta.issue_date == "2016-02-26"  # the signature date, not the 印发 date
    assert (meta.script, meta.ocr_used, meta.page_count) == ("simplified", False, 3)


def test_metadata_of_a_traditional_copy():
    found = extracted("traditional-chars")
    meta = metadata(full_text(found), found)
    assert meta.script == "traditional"
    assert meta.title == "湖北省“網際網路+”行動計劃"  # as printed
    assert (meta.issuer, meta.province, meta.doc_number) == ("湖北省人民政府", "湖北", "鄂政发〔2016〕11号")


def test_metadata_of_a_city_plan_and_an_office_notice():
    city = metadata(full_text(extracted("variant-city-flush-left")))
    assert (city.province, city.city, city.level) == ("浙江", "杭州", "city")
    notice = metadata(full_text(extracted("variant-letterspaced-notice")))
    assert notice.issuer == "河北省人民政府办公厅"
    assert notice.title == "河北省“互联网+”行动实施方案"  # named in the notice, no plan title follows
    assert (notice.doc_number, notice.issue_date) == ("冀政办发〔2016〕7号", "2016-04-08")


def test_municipality_is_province_level_and_chinese_numeral_dates():
    meta = metadata(
        "上海市人民政府文件\n沪府发〔2016〕3号\n上海市“互联网+”行动实施意见\n二〇一六年一月十二日\n一、总体要求"
    )
    assert (meta.province, meta.city, meta.level) == ("上海", None, "province")
    assert meta.issue_date == "2016-01-12"
    assert meta.title == "上海市“互联网+”行动实施意见"


def test_the_national_plan_number_is_not_the_document_number():
    meta = metadata(
        "甘肃省“互联网+”行动计划\n为贯彻落实《国务院关于积极推进“互联网+”行动的指导意见》（国发〔2015〕40号），制定本计划。"
    )
    assert meta.doc_number is None


def test_not_a_plan_reason():
    found = extracted("clean-text")
    assert not_a_plan_reason(full_text(found), clauses("d", found)) is None
    menu = "川味小馆 菜单\n1.宫保鸡丁 38元\n2.鱼香肉丝 32元\n3.麻婆豆腐 22元"
    from compare.records import Page

    menu_pages = (Page(1, menu, "pdfplumber"),)
    # numbered lines: matched, then judged off topic by its relevance verdict (compare.match.relevance)
    assert not_a_plan_reason(menu, clauses("m", menu_pages)) is None
    news = "我省“互联网+”产业发展势头良好\n记者从省经济和信息化委获悉，我省互联网企业数量持续增长。"
    assert "numbered item" in not_a_plan_reason(news, clauses("n", (Page(1, news, "pdfplumber"),)))


#: The preamble of a provincial plan citing national documents.
_CITING_PREAMBLE = (
    "为贯彻落实《国务院关于积极推进“互联网+”行动的指导意见》（国发〔2015〕40号）和"
    "《国务院办公厅关于促进农村电子商务加快发展的指导意见》（国办发〔2015〕78号）精神，结合我省实际，制定本计划。"
)


def test_the_document_number_beside_its_signer_wins_over_a_cited_national_number():
    meta = metadata(
        "湖南省人民政府办公厅文件\n湘政办发〔2015〕86号签发人：李友志\n"
        f"湖南省实施“互联网+”三年行动计划\n{_CITING_PREAMBLE}\n一、总体要求"
    )
    assert meta.doc_number == "湘政办发〔2015〕86号"


def test_the_document_number_after_the_notice_title_wins_over_numbers_cited_below_it():
    meta = metadata(
        "湖南省人民政府办公厅关于印发《湖南省实施“互联网+”三年行动计划》的通知（湘政办发〔2015〕86号）\n"
        f"各市州人民政府，省政府各厅委、各直属机构：\n{_CITING_PREAMBLE}\n一、总体要求"
    )
    assert meta.doc_number == "湘政办发〔2015〕86号"


@pytest.mark.parametrize(
    "preamble",
    [
        _CITING_PREAMBLE,
        "根据国办发〔2015〕78号文件精神，结合我市实际，制定本计划。",
        "近期，国务院办公厅印发“互联网+政务服务”技术体系建设指南（国办函〔2016〕108号），现结合我市实际制定本计划。",
    ],
    ids=["after-a-cited-title", "after-a-citing-word", "national-code-in-a-city-plan"],
)
def test_a_document_without_a_number_of_its_own_has_none(preamble):
    meta = metadata(f"贵阳市“互联网+”行动计划\n{preamble}\n一、总体要求\n（一）指导思想。")
    assert meta.city == "贵阳"
    assert meta.doc_number is None


def test_a_number_after_the_cc_block_belongs_to_the_next_document():
    meta = metadata(
        "江西省人民政府办公厅关于做好“互联网+”行动计划宣传工作的通知\n各设区市人民政府：\n请认真组织实施。\n"
        "江西省人民政府办公厅\n2016年3月2日\n抄送：省委各部门。\n江西省人民政府办公厅2016年3月3日印发\n"
        "赣府厅字〔2016〕20号\n江西省人民政府办公厅关于印发江西省“互联网+”政务服务实施方案的通知"
    )
    assert meta.doc_number is None

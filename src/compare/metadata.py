"""What a document says about itself: title, issuer, province, document number, date."""

from __future__ import annotations

import re

from compare.normalize import script_of, simplified
from compare.records import DocumentMeta

PROVINCES: tuple[str, ...] = (
    "北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "上海", "江苏", "浙江", "安徽",
    "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "重庆", "四川", "贵州",
    "云南", "西藏", "陕西", "甘肃", "青海", "宁夏", "新疆",
)
#: Prefecture-level cities that issued their own plans, with their province (extend as corpora grow).
CITY_PROVINCE: dict[str, str] = {
    "成都": "四川", "杭州": "浙江", "宁波": "浙江", "广州": "广东", "深圳": "广东", "武汉": "湖北",
    "南京": "江苏", "苏州": "江苏", "青岛": "山东", "济南": "山东", "长沙": "湖南", "西安": "陕西",
    "郑州": "河南", "合肥": "安徽", "福州": "福建", "厦门": "福建", "贵阳": "贵州", "昆明": "云南",
}
_DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,8}〔\d{4}〕\d{1,4}号")
_DATE = re.compile(r"(20\d{2}|19\d{2})年(\d{1,2})月(\d{1,2})日")
_TITLE = re.compile(r"关于印发.{2,80}?的通知|.{0,20}“?互联网\+”?.{0,30}(?:行动计划|实施方案|实施意见|行动方案)")
#: How much of a document is read to find its metadata.
HEAD_CHARS = 1500


def metadata(text: str) -> DocumentMeta:
    """Metadata from the head (and the signature) of a document's text."""
    head = simplified(text[:HEAD_CHARS]).replace("\n", "")
    number = _DOC_NUMBER.search(head)
    title = _TITLE.search(head)
    dates = _DATE.findall(simplified(text[: HEAD_CHARS * 2]))
    city = next((c for c in CITY_PROVINCE if f"{c}市" in head[:200]), None)
    province = CITY_PROVINCE[city] if city else next((p for p in PROVINCES if p in head[:200]), None)
    issuer_match = re.search(r"([\u4e00-\u9fff]{2,12}人民政府(?:办公厅)?)", head)
    return DocumentMeta(
        title=title.group(0).strip() if title else None,
        issuer=issuer_match.group(1) if issuer_match else None,
        province=province,
        city=city,
        level="city" if city else ("province" if province else None),
        doc_number=number.group(0) if number else None,
        issue_date=f"{dates[0][0]}-{int(dates[0][1]):02d}-{int(dates[0][2]):02d}" if dates else None,
        script=script_of(text),
    )

"""What a document says about itself: title, issuer, place, level, number, date, script.

Read from the head of the document's text (one paragraph per line, as extraction gives it):
the red header (``贵州省人民政府文件``), the document number line (``黔府发〔2015〕35号``),
the notice title (``…关于印发…的通知``), the plan's own title and the signature date.
Names are matched on the simplified form of the text, so a traditional-character copy
gives the same province; the title is returned as printed.

``not_a_plan_reason`` says why a readable Chinese document is not an Internet Plus plan.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from compare.ingest.normalize import script_of, simplified
from compare.ingest.numbering import marker_of
from compare.records import Clause, ClauseKind, DocumentMeta, Page

PROVINCES: tuple[str, ...] = (
    "北京",
    "天津",
    "河北",
    "山西",
    "内蒙古",
    "辽宁",
    "吉林",
    "黑龙江",
    "上海",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "广西",
    "海南",
    "重庆",
    "四川",
    "贵州",
    "云南",
    "西藏",
    "陕西",
    "甘肃",
    "青海",
    "宁夏",
    "新疆",
)
#: Municipalities directly under the central government: their plans are province-level.
MUNICIPALITIES: frozenset[str] = frozenset({"北京", "天津", "上海", "重庆"})
#: Cities that issued their own plans, with their province (extend as corpora grow).
CITY_PROVINCE: dict[str, str] = {
    "成都": "四川",
    "杭州": "浙江",
    "宁波": "浙江",
    "温州": "浙江",
    "广州": "广东",
    "深圳": "广东",
    "东莞": "广东",
    "佛山": "广东",
    "武汉": "湖北",
    "南京": "江苏",
    "苏州": "江苏",
    "无锡": "江苏",
    "青岛": "山东",
    "济南": "山东",
    "烟台": "山东",
    "长沙": "湖南",
    "西安": "陕西",
    "郑州": "河南",
    "合肥": "安徽",
    "福州": "福建",
    "厦门": "福建",
    "贵阳": "贵州",
    "昆明": "云南",
    "南宁": "广西",
    "南昌": "江西",
    "石家庄": "河北",
    "太原": "山西",
    "沈阳": "辽宁",
    "大连": "辽宁",
    "长春": "吉林",
    "哈尔滨": "黑龙江",
    "兰州": "甘肃",
    "西宁": "青海",
    "银川": "宁夏",
    "乌鲁木齐": "新疆",
    "呼和浩特": "内蒙古",
    "海口": "海南",
    "拉萨": "西藏",
}
LEVEL_PROVINCE = "province"
LEVEL_CITY = "city"
LEVEL_COUNTY = "county"

#: How many leading paragraphs are read for metadata.
HEAD_PARAGRAPHS = 40
#: A title is at most this long.
MAX_TITLE_CHARS = 80
#: The national plan's own number, which provincial plans cite but do not bear.
NATIONAL_DOC_NUMBER = "国发〔2015〕40号"
#: A document number on its own line among this many head paragraphs is the document's own
#: (room for 份号, 密级 and 紧急程度 lines and a red header of two lines above it).
DOC_NUMBER_TOP_LINES = 8
#: Issuer codes of national documents (中共中央, 中办/国办 厅字, 国务院 and its offices and
#: bureaus, ministries and commissions; a code with 部 in it is a ministry's too): a provincial
#: or city plan cites them, it does not bear them. No province, city or county code starts
#: like these; codes a place shares are left out (商电 of 商务部 and 商政 of 商丘, 建科 of
#: 住建部 and 建政 of 建德), so such a citation is caught only by ``_cited``.
NATIONAL_NUMBER_PREFIXES: tuple[str, ...] = (
    "中发",
    "中办",
    "厅字",
    "国",
    "发改",
    "财",
    "教",
    "科发",
    "民发",
    "银发",
    "银监",
    "证监",
    "保监",
    "署",
)

_BRACKETS = str.maketrans(
    {"[": "〔", "【": "〔", "(": "〔", "（": "〔", "]": "〕", "】": "〕", ")": "〕", "）": "〕"}
)
_DOC_NUMBER = re.compile(
    r"(?P<org>[\u4e00-\u9fff]{1,10})\s*[〔\[【（(]\s*(?P<year>\d{4})\s*[〕\]】）)]\s*(?P<n>\d{1,4})\s*号"
)
#: Words that cite another document in the clause before a number.
_CITATION_CUE = re.compile(r"根据|按照|依据|依照|遵照|参照|对照|贯彻|落实|转发|执行")
#: Words that run into an issuer code in running text: the citing words and conjunctions.
_RUN_IN = re.compile(rf"{_CITATION_CUE.pattern}|[和及与]")
_SENTENCE_MARKS = "。；！？;!?"
#: What may follow a document number on its own line: nothing, or the 签发人 (signer).
_OWN_LINE_REST = re.compile(r"\s*(?:签发人[：:].*)?")
#: The 抄送/印发 block that closes the notice: numbers after it are not the document's.
_CC_LINE = re.compile(r"^(?:抄送|抄报|分送)[：:]|年\d{1,2}月\d{1,2}日\s*印发$")
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0}
_DATE = re.compile(
    r"(?P<y>\d{4}|[〇零○一二三四五六七八九]{4})年(?P<m>\d{1,2}|[一二三四五六七八九十]{1,3})月(?P<d>\d{1,2}|[一二三四五六七八九十]{1,3})日"
)
_RED_HEADER = re.compile(r"^(?P<issuer>[\u4e00-\u9fff（）()]{2,40}?)\s*文件$")
_NOTICE = re.compile(r"^(?P<issuer>[\u4e00-\u9fff]{2,40}?)?关于印发[《“]?(?P<name>.+?)[》”]?的通知$")
_ISSUER_LINE = re.compile(r"^[\u4e00-\u9fff（）()]{2,40}(人民政府|办公厅|办公室|委员会|管委会)$")
_ISSUER_NAME = re.compile(
    r"^[\u4e00-\u9fff]{2,30}(人民政府办公厅|人民政府办公室|人民政府|办公厅|委员会|管委会)"
)
_PLAN_WORDS = re.compile(r"(计划|方案|意见|规划|纲要|措施|办法)")
_SUBTITLE = re.compile(r"^[（(]\d{4}\s*[—\-–－~至到]+\s*\d{4}年?[）)]$")
_CITY = re.compile(r"^(?:(?P<province>[\u4e00-\u9fff]{2,3})省)?(?P<city>[\u4e00-\u9fff]{2,4}?)市")
_COUNTY = re.compile(r"[\u4e00-\u9fff]{1,6}(县|区)人民政府")

#: A document with fewer numbered items than this has nothing to match.
MIN_NUMBERED_ITEMS = 3


def _paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()][:HEAD_PARAGRAPHS]


def _date(match: re.Match[str]) -> str:
    def number(part: str) -> int:
        if part.isdigit():
            return int(part)
        if len(part) == 4:
            return int("".join(str(_CN_DIGITS[c]) for c in part))
        tens, _, ones = part.partition("十")
        if "十" not in part:
            return _CN_DIGITS[part]
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)

    return f"{number(match['y']):04d}-{number(match['m']):02d}-{number(match['d']):02d}"


def _number_of(match: re.Match[str]) -> str:
    """The document number a match spells, without the words run into its issuer code (``根据国发`` -> ``国发``)."""
    org = _RUN_IN.split(match["org"])[-1] or match["org"]
    return f"{org}〔{match['year']}〕{match['n']}号"


def _cited(line: str, match: re.Match[str], window_start: int) -> bool:
    """Whether a number is quoted in the text rather than borne by it.

    Quoted: in the parentheses after a cited title (``《…》（国发〔2015〕40号、…）``), or in a
    clause (from ``window_start``, the end of the previous number or sentence) that cites
    (``根据``, ``按照``, ``贯彻落实`` …) — the cue word may run into the issuer code.
    """
    before = line[: match.start()]
    opening = max(before.rfind("（"), before.rfind("("))
    closing = max(before.rfind("）"), before.rfind(")"))
    if opening > closing and before[:opening].rstrip().endswith("》"):
        return True
    clause_start = max(window_start, *(before.rfind(mark) + 1 for mark in _SENTENCE_MARKS))
    return bool(_CITATION_CUE.search(line[clause_start : match.start() + len(match["org"])]))


def _national(number: str) -> bool:
    """Whether a number was issued at national level (the central committee, the State Council, a ministry)."""
    return number.startswith(NATIONAL_NUMBER_PREFIXES) or "部" in number.split("〔")[0]


def _doc_number(lines: Sequence[str], local_issuer: bool) -> str | None:
    """The document's own number, by position and role, or None when it bears none.

    Only the head before the first numbered item and before the 抄送/印发 block is read:
    a number on its own line near the top wins (after the red header, as printed);
    otherwise the first number that is not quoted (see ``_cited``). The national plan's
    number is never the document's, and no national number is a provincial, city or
    county document's (``local_issuer``): those are citations too.
    """
    head: list[str] = []
    for line in lines:
        if marker_of(line) or _CC_LINE.search(line):
            break
        head.append(line)

    def eligible(number: str) -> bool:
        return NATIONAL_DOC_NUMBER not in number and not (local_issuer and _national(number))

    for line in head[:DOC_NUMBER_TOP_LINES]:
        match = _DOC_NUMBER.match(line)
        if match and _OWN_LINE_REST.fullmatch(line[match.end() :]):
            number = _number_of(match)
            if eligible(number) and not _cited(line, match, 0):
                return number
    for line in head:
        window_start = 0
        for match in _DOC_NUMBER.finditer(line):
            number = _number_of(match)
            if eligible(number) and not _cited(line, match, window_start):
                return number
            window_start = match.end()
    return None


def _titles(lines: Sequence[str], originals: Sequence[str]) -> tuple[str | None, str | None]:
    """The plan's title (as printed) and the notice's issuer, from the head paragraphs."""
    first_numbered = next((i for i, line in enumerate(lines) if marker_of(line)), len(lines))
    notice_index = next((i for i in range(first_numbered) if _NOTICE.match(lines[i])), None)
    notice_issuer = None
    start = 0
    if notice_index is not None:
        match = _NOTICE.match(lines[notice_index])
        notice_issuer = match["issuer"] if match else None
        start = notice_index + 1
    for i in range(start, first_numbered):
        line = lines[i]
        if (
            len(line) <= MAX_TITLE_CHARS
            and "。" not in line
            and _PLAN_WORDS.search(line)
            and not _NOTICE.match(line)
        ):
            if "：" in line or line.endswith("文件"):
                continue
            title = originals[i]
            if i + 1 < len(lines) and _SUBTITLE.match(lines[i + 1]):
                title += originals[i + 1]
            return title, notice_issuer
    if notice_index is not None:
        match = _NOTICE.match(originals[notice_index]) or _NOTICE.match(lines[notice_index])
        return (match["name"] if match else None), notice_issuer
    return None, notice_issuer


def _issuer(lines: Sequence[str], notice_issuer: str | None) -> str | None:
    for line in lines[:3]:
        if match := _RED_HEADER.match(line):
            return match["issuer"]
    if notice_issuer and _ISSUER_NAME.match(notice_issuer):
        return notice_issuer
    return next((line for line in lines if _ISSUER_LINE.match(line)), None)


def _place(issuer: str | None, title: str | None) -> tuple[str | None, str | None, str | None]:
    """Province, city and level from the issuer (or the title)."""
    for source in (issuer, title):
        if not source:
            continue
        province = next((p for p in PROVINCES if source.startswith(p)), None)
        if province:
            return province, None, LEVEL_PROVINCE
        if match := _CITY.match(source):
            city = match["city"]
            return CITY_PROVINCE.get(city) or match["province"], city, LEVEL_CITY
        if _COUNTY.match(source):
            return None, None, LEVEL_COUNTY
    return None, None, None


def metadata(text: str, pages: Sequence[Page] = ()) -> DocumentMeta:
    """Metadata from the head of a document's text; ``pages`` (when given) adds OCR use and page count."""
    originals = _paragraphs(text)
    lines = [simplified(line) for line in originals]
    title, notice_issuer = _titles(lines, originals)
    issuer = _issuer(lines, notice_issuer)
    province, city, level = _place(issuer, simplified(title) if title else None)
    date_lines = [m for line in lines if (m := _DATE.fullmatch(line))]
    dates = date_lines or [m for line in lines for m in _DATE.finditer(line) if not line.endswith("印发")]
    return DocumentMeta(
        title=title,
        issuer=issuer,
        province=province,
        city=city,
        level=level,
        doc_number=_doc_number(lines, local_issuer=level is not None),
        issue_date=_date(dates[0]) if dates else None,
        script=script_of(text),
        ocr_used=any(page.method == "ocr" for page in pages),
        page_count=len(pages),
    )


def not_a_plan_reason(text: str, clauses: Sequence[Clause]) -> str | None:
    """Why a Chinese document cannot be matched at all (it has no numbered items), or None.

    Whether a document with items is an Internet Plus plan, a related policy or off topic is
    decided after scoring, from what it says and what it matches (``compare.match.relevance``).
    """
    numbered = sum(1 for c in clauses if c.kind != ClauseKind.BOILERPLATE and c.path and "+" not in c.path)
    if numbered < MIN_NUMBERED_ITEMS:
        return f"not a plan: only {numbered} numbered item(s) (一、/（一）/1.), a plan has at least {MIN_NUMBERED_ITEMS}"
    return None

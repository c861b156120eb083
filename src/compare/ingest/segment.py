"""Clauses from page text, following the numbering hierarchy 一、 > （一） > 1. > （1） > ①.

Input: pages whose text holds one paragraph per line (as ``extract.pages`` gives them).
A paragraph that runs over a page break (the page's last paragraph does not end a
sentence and the next page's first paragraph is not numbered) is one clause.

Every clause has:

- ``path``: the printed numbering of the item and its ancestors, ``二.（三）.2.（1）.①``
  (see ``compare.ingest.numbering``). An unnumbered paragraph that follows an item gets the
  item's path and ``+n`` (``一.（三）+1`` for the first such paragraph); the parts of an
  item split into several measures get ``#n`` (``二.（三）.2#1``, ``#2`` …). Paragraphs
  before the first numbered item and the closing boilerplate have an empty path.

The red header (``湖南省人民政府办公厅文件``) and the 抄送/印发 block are the printed
document's furniture, not its text: they give no clause (they stay in ``pages``).
- ``heading``: the chain of headings above it, joined with `` > ``.
- ``page``: the page it starts on; ``char_start``/``char_end``: its span in
  ``full_text(pages)``. The span covers the clause's text; a clause that runs over a page
  break also covers the newline between the pages (``text`` has no newline).
- ``kind``:
  ``boilerplate``: the notice wrapper around the plan (document number, the
  关于印发…的通知 title, addressees, the covering note, signature and date, （此件公开发布）);
  ``heading``: the plan title and numbered headings with no body (``一、总体要求``,
  ``（一）“互联网+”创业创新。``);
  ``principle``: the preamble and items under 指导思想, 基本原则, 总体思路 or 总体要求;
  ``goal``: items under 发展目标/主要目标 (any title ending in 目标) and unnumbered
  paragraphs that state targets for a year (``到2020年，…达到…``);
  ``measure``: everything else in the body (a table's header row of short labels is a
  ``heading``, its other rows are measures);
  ``fragment``: a measure, principle or goal whose text is too short or too bare to state
  anything (a lone number, code, standard number, table cell or caption:
  ``compare.ingest.fragments``).

Tables: extraction gives each row of a ruled table as one line, cells joined by `` | ``
(``compare.ingest.tables``); each row is one clause, an unnumbered paragraph of the item above it.
Its ``text`` is the row as printed; its ``text_norm`` keeps only the cells that state the
task (not 序号, 牵头单位, 完成时限 …) when the header row above says which they are. A
header row printed again at the top of each page the table runs onto is ``boilerplate``.

Annexes: a line ``附件`` / ``附件1`` / ``附件2：…`` after the plan's first numbered item, or
the title of a second document issued with the same notice (``成都市2016年植树绿化工作方案``),
starts an annex. Its clauses are no follow-ons of the plan's last item: their path starts
with ``附件n`` (the printed number, or the annex's position when none is printed):
``附件1`` for the 附件 line and the annex's title (``heading``), ``附件1+3`` for a row or
paragraph of the annex, ``附件1.一.（二）`` for its numbered items; their heading chain starts
with ``附件1：<the annex's title>``. ``in_annex`` tells them apart.

Regulations: a document whose first 第一章 or 第一条 comes before any 一、 is numbered by
chapters, sections and articles (第一章 > 第一节 > 第一条 > （一）): each article is an item
of its own (path ``第二章.第九条``), a measure unless its chapter is 总则 or 附则 (then a
principle); an article is never a heading.

Splitting (conservative): a measure is split into parts only when the paragraph itself
enumerates them, in order, with 一是…二是…, 第一，…第二，…, inline ①②… or inline
（1）（2）…, at least two of them. The first part runs from the start of the paragraph
(its title sentence included) to the second cue; the last part keeps the closing
department parentheses. The parts' texts together are the paragraph. A paragraph with
several sentences or semicolon-separated tasks but no enumeration stays one clause: the
sentences of one numbered item usually serve its one topic.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from compare.ingest.fragments import is_fragment
from compare.ingest.normalize import for_matching, simplified
from compare.ingest.numbering import (
    ANNEX_LABEL,
    ANNEX_LEVEL,
    ARTICLE_LEVEL,
    CIRCLED_NUMBERS,
    INLINE_ORDINALS,
    PATH_SEPARATOR,
    Marker,
    annex_marker,
    article_marker_of,
    marker_of,
)
from compare.ingest.structure import departments, trailing_parenthesis
from compare.ingest.tables import TABLE_CELL_SEPARATOR, is_header_row, is_table_row, row_text_for_matching
from compare.records import Clause, ClauseKind, Page

#: A numbered paragraph whose text after the marker is this short, one sentence and no
#: comma, is a heading.
MAX_HEADING_CHARS = 30
#: The title sentence that opens an item (``指导思想。``) is at most this long.
MAX_TITLE_CHARS = 20
#: A plan title is at most this long.
MAX_PLAN_TITLE_CHARS = 80
#: The title of another document after the plan is at least this long (成都市2016年植树绿化工作方案);
#: shorter lines such as 保障措施 are headings of the plan.
MIN_DOCUMENT_TITLE_CHARS = 8
#: Separator of the heading chain.
HEADING_SEPARATOR = " > "
#: A document most of whose paragraphs (this share) start indented sets paragraphs by indentation.
INDENTED_STYLE_SHARE = 0.5
#: A paragraph shorter than this is one line that stops short of the right margin (a full
#: line of a plan holds 26-28 characters at 16 pt on A4, one under 20 needs type over 22 pt),
#: so the next page cannot continue it: a list line or a heading without punctuation.
MIN_WRAPPED_CHARS = 20
#: Suffix of an unnumbered paragraph's path and of a split part's path.
FOLLOW_ON_MARK = "+"
PART_MARK = "#"

_SENTENCE_END = "。！？；：!?;:"
_CONTINUATION_START = "，。、；：！？）》」』】〕”’,.;:!?)%"
_PLAN_WORDS = re.compile(r"(计划|方案|意见|规划|纲要|措施|办法|通知|决定)")
_NOTICE_TITLE = re.compile(r"关于.{0,60}(通知|意见|决定)$|^关于印发")
_RED_HEADER = re.compile(r"^[\u4e00-\u9fff（）()]{2,40}文件$")
_DOC_NUMBER_LINE = re.compile(r"^[\u4e00-\u9fff]{1,12}\s*[〔\[【（(]\s*\d{4}\s*[〕\]】）)]\s*\d{1,4}\s*号$")
_DATE_LINE = re.compile(
    r"^(?:\d{4}|[〇零一二三四五六七八九○]{4})年[\d一二三四五六七八九十]{1,3}月[\d一二三四五六七八九十]{1,3}日$"
)
_ISSUER_LINE = re.compile(
    r"^[\u4e00-\u9fff（）()]{2,40}(人民政府|办公厅|办公室|委员会|人民政府办公厅|管委会)$"
)
_PUBLICITY = re.compile(r"^[（(]此件.{0,12}[）)]$")
_CC_BLOCK = re.compile(
    r"^(抄送|抄报|主送|分送|公开方式|公开属性|信息公开选项)[:：]|印发$|^[\u4e00-\u9fff（）()]{2,40}\s*\d{4}年\d{1,2}月\d{1,2}日\s*印发"
)
_DOWNLOAD_NOTICE = re.compile(r"(下载|转载|整理).{0,20}(仅供|以正式|为准)")
_ADDRESSEES = re.compile(r"(人民政府|各部门|直属机构|各有关单位|各委办厅局|管委会)[^。]*[:：]$")
_COVERING_NOTE = re.compile(r"印发给你们|现印发|请认真贯彻|请结合实际|认真组织实施|贯彻执行|遵照执行")
_SUBTITLE = re.compile(r"^[（(]\d{4}\s*[—\-–－~至到]+\s*\d{4}年?[）)]$")
_GOAL_TITLE = re.compile(r"目标$")
_PRINCIPLE_TITLE = re.compile(
    r"(指导思想|基本原则|总体思路|基本思路|工作思路|总体要求|指导原则|主要原则|总则|附则)$"
)
_TARGET_SENTENCE = re.compile(
    r"^(?:到|至|力争到|力争)?20\d\d年.*?(达到|超过|突破|不低于|不少于|建成|实现|提高|增长|形成)"
)
_INLINE_ORDINAL = re.compile(
    rf"(?:^|(?<=[{_SENTENCE_END}，,]))(?:(?P<cn>[{''.join(INLINE_ORDINALS)}])是|第(?P<nth>[{''.join(INLINE_ORDINALS)}])[，,、])"
)
_INLINE_CIRCLED = re.compile(
    rf"(?<=[{_SENTENCE_END}，,])(?P<c>[{CIRCLED_NUMBERS}])|^(?P<c0>[{CIRCLED_NUMBERS}])"
)
_INLINE_PAREN = re.compile(rf"(?<=[{_SENTENCE_END}，,])[（(](?P<d>\d{{1,2}})[）)]")
#: An item is split only when it enumerates at least this many parts.
MIN_PARTS = 2
#: A line that starts an annex: 附件, 附件1, 附件2：<title>.
_ANNEX_LINE = re.compile(
    r"^附件\s*(?P<n>[0-9０-９]{1,2}|[一二三四五六七八九十]{1,3})?\s*(?:[:：]\s*(?P<title>[^。]*?))?\s*$"
)
#: The title of a second document issued with the same notice ends so (``…工作方案``, ``…项目清单``).
_DOCUMENT_TITLE_END = re.compile(
    r"(计划|方案|意见|规划|纲要|措施|办法|细则|规定|清单|分工表)(?:[（(][^）)]*[）)])?$"
)
#: A document named in the notice wrapper: 关于印发《…》和《…》的通知.
_NAMED_DOCUMENT = re.compile(r"《([^》]{1,80})》")
#: Kinds whose clauses are fragments when their text says too little (``compare.ingest.fragments``).
_MAY_BE_FRAGMENT = frozenset({ClauseKind.MEASURE, ClauseKind.PRINCIPLE, ClauseKind.GOAL})


@dataclass(frozen=True)
class _Paragraph:
    """A paragraph and where each of its pieces sits in the full text."""

    text: str
    page: int
    pieces: tuple[tuple[int, int], ...]  # (offset in full text, length) of each line joined
    indented: bool = False

    @cached_property
    def simple(self) -> str:
        """The text in simplified characters, which the patterns of this module are written for."""
        return simplified(self.text)

    def offset(self, index: int) -> int:
        """Offset in the full text of character ``index`` of the paragraph (``len(text)`` for its end)."""
        consumed = 0
        for start, length in self.pieces:
            if index < consumed + length:
                return start + index - consumed
            consumed += length
        last_start, last_length = self.pieces[-1]
        return last_start + last_length

    @property
    def start(self) -> int:
        return self.pieces[0][0]

    @property
    def end(self) -> int:
        return self.offset(len(self.text))


def full_text(pages: Sequence[Page]) -> str:
    """The document's text: pages joined with a newline (clause offsets point into this)."""
    return "\n".join(page.text for page in pages)


def _page_paragraphs(page: Page, offset: int) -> list[_Paragraph]:
    result = []
    for raw in page.text.split("\n"):
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            result.append(_Paragraph(stripped, page.number, ((offset + lead, len(stripped)),), lead > 0))
        offset += len(raw) + 1
    return result


def _runs_on(above: _Paragraph, below: _Paragraph, indented_style: bool) -> bool:
    """Whether the first paragraph of a page continues the last one of the page before.

    In a document whose paragraphs start indented, a page that starts flush left
    continues the page before; otherwise a page continues the page before when that page
    stops in mid-sentence. A paragraph of one short line (``MIN_WRAPPED_CHARS``) is never
    continued.
    """
    if below.text[0] in _CONTINUATION_START:
        return True
    if departments(below.text) and trailing_parenthesis(below.text) == (0, below.text.rstrip("。")[1:-1]):
        return True  # the closing （…负责） of the item above
    if (
        marker_of(below.text) is not None
        or len(above.text) < MIN_WRAPPED_CHARS
        or _is_boilerplate(below.simple)
        or _is_boilerplate(above.simple)
        or _is_title(below.simple)
        or TABLE_CELL_SEPARATOR in below.text
    ):
        return False
    if indented_style:
        return not below.indented
    return above.text[-1] not in _SENTENCE_END and above.text[-1] not in "）)"


def paragraphs(pages: Sequence[Page]) -> list[_Paragraph]:
    """The document's paragraphs, with those that run over a page break joined."""
    per_page: list[list[_Paragraph]] = []
    offset = 0
    for page in pages:
        per_page.append(_page_paragraphs(page, offset))
        offset += len(page.text) + 1
    everything = [p for found in per_page for p in found]
    indented_style = sum(p.indented for p in everything) >= INDENTED_STYLE_SHARE * len(everything) > 0
    result: list[_Paragraph] = []
    for found in per_page:
        if result and found and _runs_on(result[-1], found[0], indented_style):
            above = result.pop()
            below = found.pop(0)
            result.append(
                _Paragraph(above.text + below.text, above.page, above.pieces + below.pieces, above.indented)
            )
        result.extend(found)
    return result


def _is_furniture(text: str) -> bool:
    """The red header or a line of the 抄送/印发 block: no clause."""
    line = text.strip()
    return bool(_RED_HEADER.match(line) or _CC_BLOCK.search(line))


def _is_boilerplate(text: str) -> bool:
    return bool(
        _RED_HEADER.match(text)
        or _DOC_NUMBER_LINE.match(text)
        or _DATE_LINE.match(text)
        or _ISSUER_LINE.match(text)
        or _PUBLICITY.match(text)
        or _CC_BLOCK.search(text)
        or _DOWNLOAD_NOTICE.search(text)
    )


def _is_title(text: str) -> bool:
    return (
        len(text) <= MAX_PLAN_TITLE_CHARS
        and "。" not in text
        and marker_of(text) is None
        and bool(_PLAN_WORDS.search(text))
        and not _is_boilerplate(text)
    )


def _plan_start(paras: Sequence[_Paragraph], markers: Sequence[Marker | None]) -> tuple[int, int | None]:
    """Index of the first paragraph of the plan proper, and of the plan title (None when there is none).

    Everything before the plan is the notice wrapper.
    """
    first_numbered = next((i for i, m in enumerate(markers) if m), len(paras))
    titles = [i for i in range(first_numbered) if _is_title(paras[i].simple)]
    notice = next((i for i in titles if _NOTICE_TITLE.search(paras[i].simple)), None)
    if notice is not None:
        plan_titles = [i for i in titles if i > notice and not _NOTICE_TITLE.search(paras[i].simple)]
        if plan_titles:
            return plan_titles[0], plan_titles[0]
        wrapper_end = notice + 1
        while wrapper_end < first_numbered and (
            _is_boilerplate(paras[wrapper_end].simple)
            or _ADDRESSEES.search(paras[wrapper_end].simple)
            or _COVERING_NOTE.search(paras[wrapper_end].simple)
        ):
            wrapper_end += 1
        return wrapper_end, None
    if titles:
        return titles[0], titles[0]
    return 0, None


def _is_regulation(paras: Sequence[_Paragraph]) -> bool:
    """Whether the document is numbered by articles: its first 第一章/第一条 comes before any 一、."""
    for para in paras:
        marker = article_marker_of(para.simple)  # 第一條 in a traditional copy
        if marker is not None and marker.number == "一":
            return True
        ordinary = marker_of(para.text)
        if ordinary is not None and ordinary.level == 0:
            return False
    return False


def _markers(paras: Sequence[_Paragraph]) -> list[Marker | None]:
    """The numbering marker of each paragraph (articles only in a regulation)."""
    regulation = _is_regulation(paras)
    return [marker_of(p.text) or (article_marker_of(p.simple) if regulation else None) for p in paras]


def _annex_line(text: str) -> tuple[str | None, str] | None:
    """The printed number (None when unnumbered) and the title of a line that starts an annex, or None."""
    match = _ANNEX_LINE.match(text)
    if match is None or len(text) > MAX_PLAN_TITLE_CHARS:
        return None
    return match.group("n"), (match.group("title") or "").strip()


def _is_document_title(paras: Sequence[_Paragraph], index: int, named: frozenset[str]) -> bool:
    """Whether paragraph ``index`` is the title of another document (an attachment issued with the
    same notice): a plan title, at the top of its page or named in the notice (``《…》``)."""
    text = paras[index].simple
    return (
        len(text) >= MIN_DOCUMENT_TITLE_CHARS
        and _is_title(text)
        and not is_table_row(text)
        and bool(_DOCUMENT_TITLE_END.search(text))
        and (index == 0 or paras[index - 1].page != paras[index].page or text in named)
    )


def _is_annex_title(text: str, marker: Marker | None) -> bool:
    """A line that can be an annex's title: short, unnumbered, no sentence, no table row."""
    return (
        marker is None
        and len(text) <= MAX_PLAN_TITLE_CHARS
        and "。" not in text
        and not is_table_row(text)
        and not _is_boilerplate(text)
    )


def in_annex(clause: Clause) -> bool:
    """Whether a clause belongs to an annex (附件) of the document rather than to its body."""
    return clause.path.startswith(ANNEX_LABEL)


def _title_of(text: str, marker: Marker | None) -> str:
    """The item's title: its heading text, or the short sentence that opens it (``指导思想``)."""
    rest = text[marker.length :] if marker else text
    first = re.split(r"[。：:；;]", rest, maxsplit=1)[0]
    return first.strip() if len(first) <= MAX_TITLE_CHARS else ""


def _is_heading(text: str, marker: Marker, next_marker: Marker | None) -> bool:
    """A short one-sentence numbered paragraph; one with a comma only when numbered items below it follow."""
    rest = text[marker.length :].strip()
    body = rest.rstrip("。.：:")
    if len(rest) > MAX_HEADING_CHARS or re.search(r"[。；;！？]", body):
        return False
    return not re.search(r"[，,]", body) or (next_marker is not None and next_marker.level > marker.level)


def _context_kind(titles: Sequence[str]) -> ClauseKind:
    """Kind given the titles of the item and its ancestors, innermost first."""
    for title in map(simplified, titles):
        if _GOAL_TITLE.search(title.rstrip("。")):
            return ClauseKind.GOAL
        if _PRINCIPLE_TITLE.search(title.rstrip("。")):
            return ClauseKind.PRINCIPLE
    return ClauseKind.MEASURE


def _cue_positions(text: str) -> list[int]:
    """Where the parts of an enumerating paragraph start (after the first part), or [] when it does not enumerate."""
    for pattern, group_names, numbering in (
        (_INLINE_ORDINAL, ("cn", "nth"), INLINE_ORDINALS),
        (_INLINE_CIRCLED, ("c", "c0"), tuple(CIRCLED_NUMBERS)),
        (_INLINE_PAREN, ("d",), tuple(str(n) for n in range(1, 21))),
    ):
        expected = 0
        positions = []
        for match in pattern.finditer(text):
            number = next(match.group(g) for g in group_names if match.group(g))
            if expected < len(numbering) and number == numbering[expected]:
                positions.append(match.start())
                expected += 1
        if len(positions) >= MIN_PARTS:
            return positions[1:]
    return []


@dataclass
class _Item:
    """A numbered item on the path stack."""

    marker: Marker
    text: str
    title: str
    heading: bool
    follow_ons: int = 0


def _path(stack: Sequence[_Item]) -> str:
    return PATH_SEPARATOR.join(item.marker.label for item in stack)


def _heading_chain(stack: Sequence[_Item]) -> str:
    parts = []
    for item in stack:
        parts.append(item.text if item.heading else item.text[: item.marker.length] + item.title)
    return HEADING_SEPARATOR.join(parts)


def clauses(doc_id: str, pages: Sequence[Page]) -> tuple[Clause, ...]:
    """The document's clauses, in order, with path, heading chain, kind, page and offsets."""
    paras = paragraphs(pages)
    markers = _markers(paras)
    plan_start, title_index = _plan_start(paras, markers)
    named = frozenset(name for p in paras[:plan_start] for name in _NAMED_DOCUMENT.findall(p.simple))
    result: list[Clause] = []
    stack: list[_Item] = []
    plan_title = ""
    body_started = False  # a numbered item of the plan, or a paragraph of the current annex, was seen
    annexes = 0
    annex_title_due = False  # the 附件 line had no title: the next short line is the annex's title
    table_header: str | None = None

    def emit(
        para: _Paragraph,
        path: str,
        heading: str,
        kind: ClauseKind,
        begin: int = 0,
        end: int | None = None,
        matching: str | None = None,
    ) -> None:
        stop = len(para.text) if end is None else end
        text = para.text[begin:stop]
        stripped_left = len(text) - len(text.lstrip())
        text = text.strip()
        if kind in _MAY_BE_FRAGMENT and is_fragment(text if matching is None else matching):
            kind = ClauseKind.FRAGMENT
        seq = len(result)
        start_offset = para.offset(begin + stripped_left)
        result.append(
            Clause(
                clause_id=f"{doc_id}:{seq:04d}",
                doc_id=doc_id,
                seq=seq,
                path=path,
                heading=heading,
                kind=kind,
                text=text,
                text_norm=for_matching(text if matching is None else matching),
                page=_page_at(para, pages, start_offset),
                char_start=start_offset,
                char_end=para.offset(begin + stripped_left + len(text)),
            )
        )

    for index, para in enumerate(paras):
        text = para.text
        if _is_furniture(para.simple):
            continue
        if index < plan_start or _is_boilerplate(para.simple):
            emit(para, "", "", ClauseKind.BOILERPLATE)
            continue
        if index == title_index or (
            title_index is not None and index == title_index + 1 and _SUBTITLE.match(para.simple)
        ):
            plan_title = plan_title + text if plan_title else text
            emit(para, "", "", ClauseKind.HEADING)
            continue
        marker = markers[index]
        annex_line = _annex_line(para.simple) if body_started else None
        if annex_line is not None or (
            body_started and marker is None and _is_document_title(paras, index, named)
        ):
            annexes += 1
            number, title = annex_line if annex_line is not None else (None, text)
            root = _Item(marker=annex_marker(number or str(annexes)), text="", title="", heading=True)
            _retitle(root, title)
            stack = [root]
            body_started, annex_title_due, table_header = False, not title, None
            emit(para, _path(stack), "", ClauseKind.HEADING)
            continue
        if (
            stack
            and stack[0].marker.level == ANNEX_LEVEL
            and not body_started
            and _is_annex_title(para.simple, marker)
        ):
            root = stack[0]
            if annex_title_due or _SUBTITLE.match(para.simple):
                _retitle(root, root.title + text)
                annex_title_due = False
                emit(para, _path(stack), "", ClauseKind.HEADING)
                continue
        if marker is None:
            row = is_table_row(text)
            header = row and is_header_row(text)
            if header and text == table_header:
                emit(para, "", "", ClauseKind.BOILERPLATE)  # the header printed again on the next page
                continue
            if header:
                table_header = text
            elif not row:
                table_header = None
            if not stack:
                emit(para, "", plan_title, ClauseKind.PRINCIPLE)
                continue
            body_started = True
            current = stack[-1]
            current.follow_ons += 1
            titles = [item.title for item in reversed(stack)]
            if header:
                kind = ClauseKind.HEADING
            elif _TARGET_SENTENCE.match(para.simple):
                kind = ClauseKind.GOAL
            elif current.marker.level == ANNEX_LEVEL and not row:
                kind = ClauseKind.PRINCIPLE  # an annex's preamble, before its first item
            else:
                kind = _context_kind(titles)
            chain = _heading_chain(stack if current.heading else stack[:-1])
            matching = row_text_for_matching(text, table_header) if row and not header else None
            emit(para, f"{_path(stack)}{FOLLOW_ON_MARK}{current.follow_ons}", chain, kind, matching=matching)
            continue
        table_header = None
        body_started = True
        while stack and stack[-1].marker.level >= marker.level:
            stack.pop()
        heading = marker.level != ARTICLE_LEVEL and _is_heading(
            text, marker, markers[index + 1] if index + 1 < len(paras) else None
        )
        item = _Item(marker=marker, text=text, title=_title_of(text, marker), heading=heading)
        chain = _heading_chain(stack)
        stack.append(item)
        path = _path(stack)
        if heading:
            emit(para, path, chain, ClauseKind.HEADING)
            continue
        kind = _context_kind([item.title for item in reversed(stack)])
        cues = _cue_positions(text) if kind == ClauseKind.MEASURE else []
        if not cues:
            emit(para, path, chain, kind)
            continue
        bounds = [0, *cues, len(text)]
        for part, (begin, end) in enumerate(itertools.pairwise(bounds), start=1):
            emit(para, f"{path}{PART_MARK}{part}", chain, kind, begin, end)
    return tuple(result)


def _retitle(root: _Item, title: str) -> None:
    """Give an annex's root item its title: its heading reads ``附件1：<title>``."""
    root.title = title
    root.text = f"{root.marker.label}：{title}" if title else root.marker.label


def _page_at(para: _Paragraph, pages: Sequence[Page], offset: int) -> int:
    """The page that holds full-text ``offset`` (the paragraph's own page for offsets before a page break)."""
    position = 0
    for page in pages:
        end = position + len(page.text)
        if offset <= end:
            return page.number
        position = end + 1
    return para.page

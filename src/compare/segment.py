"""Clauses from page text: the numbering hierarchy 一、 > （一） > 1. > （1） > ① of Chinese official documents."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from compare.normalize import collapse_cjk_spaces, for_matching
from compare.records import Clause, ClauseKind, Page

#: Numbering markers by level, outermost first.
LEVEL_MARKERS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^(?P<n>[一二三四五六七八九十]{1,3})、"),
    re.compile(r"^[（(](?P<n>[一二三四五六七八九十]{1,3})[）)]"),
    re.compile(r"^(?P<n>\d{1,2})[.．、](?!\d)"),
    re.compile(r"^[（(](?P<n>\d{1,2})[）)]"),
    re.compile(r"^(?P<n>[①②③④⑤⑥⑦⑧⑨⑩])"),
)
_PAGE_NUMBER = re.compile(r"^\s*[—\-－–]\s*\d{1,4}\s*[—\-－–]\s*$")
#: A heading is a numbered paragraph this short or shorter.
MAX_HEADING_CHARS = 24
_SENTENCE_END = "。：:；;！？"


@dataclass(frozen=True)
class _Paragraph:
    text: str
    page: int
    start: int
    end: int


def _marker_level(text: str) -> tuple[int, str] | None:
    for level, pattern in enumerate(LEVEL_MARKERS):
        if m := pattern.match(text):
            return level, m.group("n")
    return None


def full_text(pages: Sequence[Page]) -> str:
    """The document's text: pages joined with a newline (clause offsets point into this)."""
    return "\n".join(page.text for page in pages)


def _paragraphs(pages: Sequence[Page]) -> list[_Paragraph]:
    paragraphs: list[_Paragraph] = []
    buffer = ""
    start = end = offset = 0
    page_of_start = 1

    def flush() -> None:
        nonlocal buffer
        if buffer.strip():
            paragraphs.append(_Paragraph(buffer.strip(), page_of_start, start, end))
        buffer = ""

    for page in pages:
        for raw in page.text.split("\n"):
            line = collapse_cjk_spaces(raw.strip())
            line_start, offset = offset, offset + len(raw) + 1
            if not line or _PAGE_NUMBER.match(line):
                continue
            if _marker_level(line) is not None or not buffer or buffer.rstrip()[-1:] in _SENTENCE_END:
                flush()
                start, page_of_start = line_start, page.number
            buffer += line
            end = line_start + len(raw)
    flush()
    return paragraphs


def clauses(doc_id: str, pages: Sequence[Page]) -> tuple[Clause, ...]:
    """Numbered paragraphs become clauses with their path and heading chain; the rest is boilerplate."""
    result: list[Clause] = []
    path: list[str] = []
    headings: list[str] = []
    for para in _paragraphs(pages):
        level_info = _marker_level(para.text)
        if level_info is None:
            kind = ClauseKind.BOILERPLATE
            clause_path = ".".join(path)
        else:
            level, number = level_info
            del path[level:], headings[level:]
            path.extend([""] * (level - len(path)))
            headings.extend([""] * (level - len(headings)))
            path.append(number)
            clause_path = ".".join(p for p in path if p)
            is_heading = len(para.text) <= MAX_HEADING_CHARS
            headings.append(para.text if is_heading else para.text.split("。")[0])
            kind = ClauseKind.HEADING if is_heading else ClauseKind.MEASURE
        seq = len(result)
        result.append(
            Clause(
                clause_id=f"{doc_id}:{seq:04d}",
                doc_id=doc_id,
                seq=seq,
                path=clause_path,
                heading=" > ".join(h for h in headings[:-1] if h) if level_info else " > ".join(h for h in headings if h),
                kind=kind,
                text=para.text,
                text_norm=for_matching(para.text),
                page=para.page,
                char_start=para.start,
                char_end=para.end,
            )
        )
    return tuple(result)

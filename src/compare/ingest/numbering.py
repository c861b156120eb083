"""The numbering hierarchy of Chinese official documents: 一、 > （一） > 1. > （1） > ①.

Both extraction (a numbered line starts a paragraph) and segmentation (a clause's path)
read numbering markers; they are declared once, here.

A clause path joins the printed markers of the item and its ancestors with ``.``, each
marker written as printed but without its trailing 、 or . and with full-width
parentheses: ``二.（三）.2.（1）.①``.

Two structures sit above the ordinary numbering, and only segmentation reads them
(``marker_of`` does not, so extraction and the synthetic corpus see the five levels alone):

- a regulation's chapters, sections and articles, 第一章 > 第一节 > 第一条, above 一、
  (``article_marker_of``); in a path they are written as printed: ``第二章.第九条.（一）``;
- an annex (附件) of the document, above everything: ``附件1.一.（二）``, ``附件1+3``
  (``annex_marker``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Separator between the levels of a clause path.
PATH_SEPARATOR = "."

_CN_NUM = "[一二三四五六七八九十]{1,3}"
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"

#: Numbering markers by level, outermost first. Each captures the number as ``n``
#: and the whole marker (with its punctuation) as the match.
LEVEL_MARKERS: tuple[re.Pattern[str], ...] = (
    re.compile(rf"^(?P<n>{_CN_NUM})[、．.](?!\d)"),
    re.compile(rf"^[（(](?P<n>{_CN_NUM})[）)][、，,．.]?"),
    re.compile(r"^(?P<n>\d{1,2})[.．、](?!\d)"),
    re.compile(r"^[（(](?P<n>\d{1,2})[）)][、，,．.]?"),
    re.compile(rf"^(?P<n>[{_CIRCLED}])"),
)

#: Levels above 一、 (an outer level has a smaller number): an annex, then a regulation's
#: chapter, section and article.
ANNEX_LEVEL = -4
CHAPTER_LEVEL = -3
SECTION_LEVEL = -2
ARTICLE_LEVEL = -1
#: What a path starts with for a clause inside an annex (``附件1``, ``附件2``).
ANNEX_LABEL = "附件"

#: How each level's number is written in a path.
_PATH_FORMS: dict[int, str] = {
    ANNEX_LEVEL: ANNEX_LABEL + "{n}",
    CHAPTER_LEVEL: "第{n}章",
    SECTION_LEVEL: "第{n}节",
    ARTICLE_LEVEL: "第{n}条",
    0: "{n}",
    1: "（{n}）",
    2: "{n}",
    3: "（{n}）",
    4: "{n}",
}
_ARTICLE_LEVELS = {"章": CHAPTER_LEVEL, "节": SECTION_LEVEL, "条": ARTICLE_LEVEL}
_ARTICLE_MARKER = re.compile(r"^第(?P<n>[一二三四五六七八九十百零〇两]{1,6})(?P<unit>[章节条])[\s\u3000]*")


@dataclass(frozen=True)
class Marker:
    """A numbering marker at the start of a paragraph."""

    level: int
    number: str
    length: int

    @property
    def label(self) -> str:
        """The marker as written in a clause path (``（三）``, ``2``)."""
        return _PATH_FORMS[self.level].format(n=self.number)


def marker_of(text: str) -> Marker | None:
    """The numbering marker that opens ``text``, or None."""
    for level, pattern in enumerate(LEVEL_MARKERS):
        if match := pattern.match(text):
            return Marker(level=level, number=match.group("n"), length=match.end())
    return None


def article_marker_of(text: str) -> Marker | None:
    """The 第X章 / 第X节 / 第X条 marker that opens ``text``, or None.

    Only a regulation is numbered so; a plan may start a line with 第一条 inside its 附则
    or mention 第五条 at the start of a wrapped line, so the caller decides whether the
    document is a regulation (``compare.ingest.segment``).
    """
    if match := _ARTICLE_MARKER.match(text):
        return Marker(level=_ARTICLE_LEVELS[match.group("unit")], number=match.group("n"), length=match.end())
    return None


def annex_marker(number: str) -> Marker:
    """The marker of an annex, ``附件1`` in a path (it opens no paragraph: its length is 0)."""
    return Marker(level=ANNEX_LEVEL, number=number, length=0)


#: Ordinals that enumerate parts inside one paragraph: 一是…二是…, 第一，…第二，….
INLINE_ORDINALS: tuple[str, ...] = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十")
CIRCLED_NUMBERS: str = _CIRCLED

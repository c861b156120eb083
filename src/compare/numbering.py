"""The numbering hierarchy of Chinese official documents: 一、 > （一） > 1. > （1） > ①.

Both extraction (a numbered line starts a paragraph) and segmentation (a clause's path)
read numbering markers; they are declared once, here.

A clause path joins the printed markers of the item and its ancestors with ``.``, each
marker written as printed but without its trailing 、 or . and with full-width
parentheses: ``二.（三）.2.（1）.①``.
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

#: How each level's number is written in a path.
_PATH_FORMS: tuple[str, ...] = ("{n}", "（{n}）", "{n}", "（{n}）", "{n}")


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


#: Ordinals that enumerate parts inside one paragraph: 一是…二是…, 第一，…第二，….
INLINE_ORDINALS: tuple[str, ...] = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十")
CIRCLED_NUMBERS: str = _CIRCLED

"""Text normalization for matching. The original text is always kept for evidence.

``for_matching`` is the form that is embedded and compared: Kangxi radicals folded to
ideographs, no spaces between CJK characters, full-width letters, digits and number signs
folded to half-width (Chinese punctuation kept, and ASCII punctuation next to Chinese made
full-width), and traditional characters and Taiwan vocabulary converted to simplified
mainland usage with OpenCC's ``tw2sp`` (網際網路 → 互联网, 資訊 → 信息, 軟體 → 软件); a text
with no traditional character is left as it is.

``visible`` is applied to the original text itself, at extraction: a character that stands
for no readable glyph (a control character, which is how a glyph without a Unicode mapping
often comes out of a PDF) becomes U+FFFD, so evidence shows where a character could not be read.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

from compare.safe_text import printable

#: Full-width ASCII letters, digits and the signs that go with numbers (％ ＋ － ． ／) and the
#: ideographic space fold to half-width; Chinese punctuation (，。、；：（）《》“”) is kept as it is.
_FULLWIDTH_ALNUM = re.compile(
    r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff05\uff0b\uff0d\uff0e\uff0f\u3000]"
)
#: Kangxi radicals, CJK radical supplements and compatibility ideographs, which some PDF fonts
#: map characters to (⼀ for 一, ⾏ for 行); NFKC folds them to the unified ideographs.
_RADICAL_OR_COMPAT = re.compile(r"[\u2e80-\u2eff\u2f00-\u2fdf\uf900-\ufaff]")
_ASCII_TO_FULLWIDTH = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}
_CJK_SPAN = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_ASCII_PUNCT_NEAR_CJK = re.compile(rf"(?<=[{_CJK_SPAN}])[,;:?!()]|[,;:?!()](?=[{_CJK_SPAN}])")
_PARENTHESIZED_NUMBER = re.compile(r"\((\d{1,2}|[一二三四五六七八九十]{1,3})\)")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SPACE_BETWEEN_CJK = re.compile(
    r"(?<=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])[ \t]+(?=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])"
)


@lru_cache(maxsize=4)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def visible(text: str) -> str:
    """Page text with U+FFFD for every character that shows no glyph, and nothing else changed.

    A glyph with no Unicode mapping comes out of a PDF as a control character (NUL most
    often). Each C0 and C1 control, surrogate and noncharacter becomes U+FFFD, the
    replacement character, rather than being dropped: dropping would join the characters on
    either side, and the quoted evidence would read as text the document does not contain.
    Newline (the paragraph separator) and tab are kept; a carriage return becomes a space.
    Format characters and combining marks are text and stay (see ``compare.safe_text``).
    """
    return printable(text).replace("\r", " ")


def halfwidth_alnum(text: str) -> str:
    """Fold full-width digits, Latin letters, %, . and the ideographic space; keep Chinese punctuation."""
    return _FULLWIDTH_ALNUM.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def unified_ideographs(text: str) -> str:
    """Kangxi radicals and compatibility ideographs as the ideographs they stand for."""
    return _RADICAL_OR_COMPAT.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def chinese_punctuation(text: str) -> str:
    """ASCII punctuation next to Chinese characters (and around numbers such as "(1)") as full-width marks."""
    text = _PARENTHESIZED_NUMBER.sub(r"（\1）", text)
    return _ASCII_PUNCT_NEAR_CJK.sub(lambda m: _ASCII_TO_FULLWIDTH[m.group()], text)


def simplified(text: str) -> str:
    """Traditional characters and Taiwan vocabulary (網際網路, 資訊, 軟體) to simplified mainland usage.

    Text already in simplified characters is returned as it is: ``tw2sp``'s phrase table also
    rewrites mainland words that Taiwan uses differently (文件 → 文档, 智慧 → 智能, 建立 → 创建,
    核心 → 内核, 整合 → 集成), which would put words into a mainland plan that it never uses.
    """
    if _converter("t2s").convert(text) == text:
        return text
    return _converter("tw2sp").convert(text)


def collapse_cjk_spaces(text: str) -> str:
    """Remove spaces that stand between two CJK characters or CJK punctuation."""
    return _SPACE_BETWEEN_CJK.sub("", text)


def for_matching(text: str) -> str:
    """The form of a text that is embedded and compared."""
    return simplified(
        chinese_punctuation(halfwidth_alnum(collapse_cjk_spaces(unified_ideographs(text))))
    ).strip()


def cjk_share(text: str) -> float:
    """Share of non-space characters that are CJK ideographs."""
    chars = [c for c in text if not c.isspace()]
    return sum(1 for c in chars if _CJK.match(c)) / len(chars) if chars else 0.0


def script_of(text: str) -> str:
    """``traditional`` when converting to simplified changes a noticeable share of characters."""
    sample = "".join(_CJK.findall(text))[:5000]
    if not sample:
        return "unknown"
    changed = sum(1 for a, b in zip(sample, _converter("t2s").convert(sample), strict=False) if a != b)
    return "traditional" if changed / len(sample) > TRADITIONAL_SHARE else "simplified"


#: Share of characters that change under t2s above which a text is traditional.
TRADITIONAL_SHARE = 0.05

"""The official Chinese text of the national plan, aligned to the catalogue by structure.

When a user puts the Chinese 国发〔2015〕40号 (a PDF) into ``corpora/national/``, each numbered
item of its parts 二、重点行动 and 三、保障支撑 is aligned by position with the catalogue:
``二.（一）.1`` ↔ ``II.1.1``, ``三.（七）.3`` ↔ ``III.7.3``. The catalogue then has ``text_zh``
for every measure, which switches on the Chinese semantic channels and the lexical channel.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from compare.errors import CatalogueError
from compare.match.catalogue import Catalogue
from compare.records import Clause

#: Top-level numerals of the parts that hold measures, and their catalogue part.
PARTS: dict[str, str] = {"二": "II", "三": "III"}
CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
#: Separators of a clause path (``二.（三）.2``), of an item's parts (``#2``) and continuations (``+1``).
PATH_SEPARATOR = "."
PART_MARKS = ("#", "+")


def chinese_number(text: str) -> int:
    """一 → 1, 十 → 10, 十一 → 11, 二十三 → 23 (the numerals used in 公文 numbering)."""
    text = text.strip("（）()、")
    if not text or any(ch not in CHINESE_DIGITS for ch in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    if "十" not in text:
        return CHINESE_DIGITS[text]
    tens, _, units = text.partition("十")
    return (CHINESE_DIGITS[tens] if tens else 1) * 10 + (CHINESE_DIGITS[units] if units else 0)


def _measure_id(path: str) -> str | None:
    base = path
    for mark in PART_MARKS:
        base = base.split(mark)[0]
    parts = base.split(PATH_SEPARATOR)
    if len(parts) != 3 or parts[0] not in PARTS:
        return None
    try:
        return f"{PARTS[parts[0]]}.{chinese_number(parts[1])}.{int(parts[2])}"
    except ValueError:
        return None


def chinese_texts(clauses: tuple[Clause, ...] | list[Clause]) -> dict[str, str]:
    """Measure id → the Chinese text of its item (the parts of a split item joined)."""
    texts: dict[str, str] = {}
    for clause in clauses:
        measure_id = _measure_id(clause.path)
        if measure_id is not None:
            texts[measure_id] = texts.get(measure_id, "") + clause.text
    return texts


def with_chinese(catalogue: Catalogue, texts: dict[str, str], source: Path) -> Catalogue:
    """The catalogue with every measure's Chinese text; the document must have all 65 and no others."""
    missing = [m for m in catalogue.ids if m not in texts]
    unknown = sorted(set(texts) - set(catalogue.ids))
    if missing or unknown:
        raise CatalogueError(
            f"{source.name}: its structure does not align with the 65 national measures "
            f"(missing: {', '.join(missing[:8]) or 'none'}{' …' if len(missing) > 8 else ''}; "
            f"unexpected: {', '.join(unknown[:8]) or 'none'}); expected 二、 with 11 actions and 三、 with 7 sections"
        )
    measures = tuple(replace(m, text_zh=texts[m.measure_id]) for m in catalogue.measures)
    return Catalogue(measures=measures, source={**catalogue.source, "text_zh_from": source.name})


def national_pdfs(folder: Path) -> list[Path]:
    """Chinese national plan PDFs dropped into the catalogue's folder."""
    return sorted(p for p in folder.glob("*") if p.is_file() and p.suffix.lower() == ".pdf")

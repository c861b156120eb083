"""The national measure catalogue: parsed from the seed translation, stored as JSON, validated on load.

The State Council plan (国发〔2015〕40号) has 11 key actions in part II (40 measures) and
7 guarantee sections in part III (25 measures). Sections and measures are numbered here
by position: the translation misprints some headings ("(1)" twice in part II, "(5)" twice
in part III).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from compare.errors import CatalogueError, SeedFormatError

#: Measures per action in part II and per section in part III, by position.
PART_II_SHAPE: tuple[int, ...] = (3, 4, 4, 4, 3, 5, 3, 4, 3, 4, 3)
PART_III_SHAPE: tuple[int, ...] = (4, 4, 4, 3, 4, 3, 3)
MEASURE_COUNT = sum(PART_II_SHAPE) + sum(PART_III_SHAPE)

#: Chinese names of the 11 actions and 7 guarantee sections, in order (the official headings).
SECTION_TITLES_ZH: dict[str, tuple[str, ...]] = {
    "II": (
        "“互联网+”创业创新",
        "“互联网+”协同制造",
        "“互联网+”现代农业",
        "“互联网+”智慧能源",
        "“互联网+”普惠金融",
        "“互联网+”益民服务",
        "“互联网+”高效物流",
        "“互联网+”电子商务",
        "“互联网+”便捷交通",
        "“互联网+”绿色生态",
        "“互联网+”人工智能",
    ),
    "III": (
        "夯实发展基础",
        "强化创新驱动",
        "营造宽松环境",
        "拓展海外合作",
        "加强智力建设",
        "加强引导支持",
        "做好组织实施",
    ),
}

_PART_II_HEADING = re.compile(r"^II[,.]\s")
_PART_III_HEADING = re.compile(r"^III[,.]\s")
_SIGNATURE = re.compile(r"^State Council\s*$")
_SECTION_HEADING = re.compile(r"^\((\d+)\)\s+(?P<title>\S.*)$")
_MEASURE_LINE = re.compile(r"^\s+(\d+)\.\s+(?P<text>\S.*)$")
_ZH_MEASURE_LINE = re.compile(r"^(?P<n>\d+)[.．、](?P<text>[\u4e00-\u9fff].*)$")
_TRAILING_PARENS = re.compile(r"[(（](?P<inner>[^()（）]*)[)）][.。]?\s*$")
_TITLE_SENTENCE = re.compile(r"^(?P<title>.+?[.。])(?:\s+|$)")
_MINISTRY_BOILERPLATE = re.compile(
    r",?\s*(?:etc\.?,?\.?\s*)?(?:are|ere|is)\s+responsible.*$|\s+(?:to\s+)?(?:jointly\s+)?take the lead.*$",
    re.IGNORECASE,
)
#: Names the translation runs together without a comma ("… Technology Ministry of …").
_GLUED_MINISTRY = re.compile(
    r"(?<=[a-z])(?<! and)(?<! of)\s+(?=(?:Ministry of|State Administration|Cyberspace Administration)\b)"
    r"|\s+and\s+(?=Ministry of |most\b)"
)
#: The translation's "MOST" (Ministry of Science and Technology), written in lower case once.
_MOST = re.compile(r"\bmost\b")
#: A ministry whose own name holds a comma.
_COMMA_NAME_TAIL = "Inspection and Quarantine"

#: The seed's one Chinese paragraph is measure III.3.1 in the original language
#: (its number "1." and its ministry list agree with that measure; the seed README says so).
SEED_ZH_MEASURE_ID = "III.3.1"


@dataclass(frozen=True)
class Measure:
    """One national measure of 国发〔2015〕40号."""

    measure_id: str
    part: str
    section_no: int
    measure_no: int
    section_title_en: str
    section_title_zh: str
    title_en: str
    text_en: str
    ministries: tuple[str, ...]
    text_zh: str | None = None

    @property
    def section_id(self) -> str:
        return f"{self.part}.{self.section_no}"

    @property
    def lead_ministry(self) -> str | None:
        return self.ministries[0] if self.ministries else None


@dataclass(frozen=True)
class Catalogue:
    """The 65 national measures, in order, and where they came from."""

    measures: tuple[Measure, ...]
    source: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate(self.measures)

    def __len__(self) -> int:
        return len(self.measures)

    def __iter__(self) -> Iterator[Measure]:
        return iter(self.measures)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(m.measure_id for m in self.measures)

    def by_id(self, measure_id: str) -> Measure:
        for measure in self.measures:
            if measure.measure_id == measure_id:
                return measure
        raise KeyError(measure_id)

    @property
    def fingerprint(self) -> str:
        """A short hash of the catalogue's content, stored with every run."""
        blob = json.dumps([asdict(m) for m in self.measures], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def expected_ids() -> tuple[str, ...]:
    """The 65 measure ids in catalogue order: II.1.1 … II.11.3, III.1.1 … III.7.3."""
    ids = [
        f"{part}.{s}.{m}"
        for part, shape in (("II", PART_II_SHAPE), ("III", PART_III_SHAPE))
        for s, count in enumerate(shape, start=1)
        for m in range(1, count + 1)
    ]
    return tuple(ids)


def _validate(measures: Sequence[Measure]) -> None:
    ids = [m.measure_id for m in measures]
    if tuple(ids) != expected_ids():
        missing = sorted(set(expected_ids()) - set(ids))
        extra = sorted(set(ids) - set(expected_ids()))
        raise CatalogueError(
            f"catalogue has {len(ids)} measures, expected {MEASURE_COUNT} with ids II.1.1 … III.7.3 "
            f"in order (missing: {missing[:5] or 'none'}, unexpected: {extra[:5] or 'none'}); "
            "rebuild it with `compare catalogue build`"
        )
    for m in measures:
        if not m.title_en.strip() or not m.text_en.strip():
            raise CatalogueError(f"measure {m.measure_id} has an empty title or text")
        if not m.ministries:
            raise CatalogueError(f"measure {m.measure_id} names no responsible ministry")


def _ministries(paren_text: str) -> tuple[str, ...]:
    text = _MINISTRY_BOILERPLATE.sub("", paren_text.strip())
    text = _MOST.sub("Ministry of Science and Technology", _GLUED_MINISTRY.sub(", ", text))
    names: list[str] = []
    for part in text.split(","):
        name = part.strip().removesuffix(" etc.").removesuffix(" etc").strip(" .")
        if name == _COMMA_NAME_TAIL and names:
            names[-1] = f"{names[-1]}, {name}"
        elif name and name not in names:
            names.append(name)
    return tuple(names)


def _title_sentence(text: str) -> str:
    match = _TITLE_SENTENCE.match(text)
    return match.group("title").strip() if match else text.strip()


@dataclass
class _Section:
    title: str
    lead: str = ""
    measures: list[str] = field(default_factory=list)


def _sections(lines: Iterable[str], part: str) -> list[_Section]:
    sections: list[_Section] = []
    for line in lines:
        if not line.strip():
            continue
        heading = _SECTION_HEADING.match(line)
        measure = _MEASURE_LINE.match(line)
        if heading:
            sections.append(_Section(title=heading.group("title").strip().rstrip(".")))
        elif measure:
            if not sections:
                raise SeedFormatError(f"part {part}: a numbered measure comes before any section heading")
            sections[-1].measures.append(measure.group("text").strip())
        elif sections and not sections[-1].measures:
            sections[-1].lead = (sections[-1].lead + " " + line.strip()).strip()
    return sections


def _zh_paragraphs(lines: Iterable[str]) -> list[tuple[int, str]]:
    return [
        (int(m.group("n")), line.strip()) for line in lines if (m := _ZH_MEASURE_LINE.match(line.strip()))
    ]


def parse_seed(text: str, *, source_name: str = "seed") -> Catalogue:
    """Parse the English translation of 国发〔2015〕40号 into the 65-measure catalogue."""
    lines = text.splitlines()
    starts = {
        "II": next((i for i, line in enumerate(lines) if _PART_II_HEADING.match(line)), None),
        "III": next((i for i, line in enumerate(lines) if _PART_III_HEADING.match(line)), None),
    }
    if starts["II"] is None or starts["III"] is None:
        raise SeedFormatError(f"{source_name}: no 'II,' and 'III,' part headings found")
    end = next(
        (i for i, line in enumerate(lines) if i > starts["III"] and _SIGNATURE.match(line)), len(lines)
    )
    parts = {
        "II": (lines[starts["II"] + 1 : starts["III"]], PART_II_SHAPE),
        "III": (lines[starts["III"] + 1 : end], PART_III_SHAPE),
    }
    measures: list[Measure] = []
    for part, (part_lines, shape) in parts.items():
        sections = _sections(part_lines, part)
        found = tuple(len(s.measures) for s in sections)
        if found != shape:
            raise SeedFormatError(
                f"{source_name}: part {part} has sections with {found} measures, expected {shape}"
            )
        for s_no, section in enumerate(sections, start=1):
            lead_parens = _TRAILING_PARENS.search(section.lead)
            section_ministries = _ministries(lead_parens.group("inner")) if lead_parens else ()
            for m_no, body in enumerate(section.measures, start=1):
                own = _TRAILING_PARENS.search(body)
                ministries = _ministries(own.group("inner")) if own and part == "III" else section_ministries
                measures.append(
                    Measure(
                        measure_id=f"{part}.{s_no}.{m_no}",
                        part=part,
                        section_no=s_no,
                        measure_no=m_no,
                        section_title_en=section.title,
                        section_title_zh=SECTION_TITLES_ZH[part][s_no - 1],
                        title_en=_title_sentence(body),
                        text_en=body,
                        ministries=ministries,
                    )
                )
    zh = _zh_paragraphs(lines[end:])
    if zh:
        target = SEED_ZH_MEASURE_ID
        number, paragraph = zh[0]
        index = next(i for i, m in enumerate(measures) if m.measure_id == target)
        if measures[index].measure_no != number:
            raise SeedFormatError(
                f"{source_name}: the Chinese paragraph is numbered {number}, "
                f"but {target} is measure {measures[index].measure_no} of its section"
            )
        measures[index] = replace(measures[index], text_zh=paragraph)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    source = {
        "document": "国务院关于积极推进“互联网+”行动的指导意见 (国发〔2015〕40号)",
        "translation": source_name,
        "sha256": digest,
        "text_zh_from": f"{source_name} (measure {SEED_ZH_MEASURE_ID})" if zh else "",
    }
    return Catalogue(measures=tuple(measures), source=source)


def write_catalogue(catalogue: Catalogue, path: Path) -> Path:
    """Write the catalogue as pretty JSON (stable order, UTF-8)."""
    payload = {
        "source": catalogue.source,
        "measure_count": len(catalogue),
        "measures": [{**asdict(m), "ministries": list(m.ministries)} for m in catalogue.measures],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def load_catalogue(path: Path) -> Catalogue:
    """Load and validate a catalogue file; fail loudly on anything but 65 well-formed measures."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogueError(f"{path}: catalogue not found; build it with `compare catalogue build`") from exc
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("measures"), list):
        raise CatalogueError(f"{path}: expected an object with a 'measures' list")
    fields = set(Measure.__dataclass_fields__)
    measures = []
    for i, raw in enumerate(payload["measures"]):
        if not isinstance(raw, dict) or set(raw) - fields or {"measure_id", "title_en", "text_en"} - set(raw):
            raise CatalogueError(f"{path}: measure #{i + 1} has missing or unknown fields")
        measures.append(Measure(**{**raw, "ministries": tuple(raw.get("ministries", ()))}))
    try:
        return Catalogue(measures=tuple(measures), source=dict(payload.get("source", {})))
    except CatalogueError as exc:
        raise CatalogueError(f"{path}: {exc}") from exc


def main(argv: Sequence[str] | None = None) -> None:
    """Rebuild the catalogue from the seed: ``python -m compare.match.catalogue SEED OUT``."""
    import sys

    args = list(argv if argv is not None else sys.argv[1:])
    seed, out = Path(args[0]), Path(args[1])
    catalogue = parse_seed(seed.read_text(encoding="utf-8"), source_name=seed.name)
    write_catalogue(catalogue, out)
    print(f"{out}: {len(catalogue)} measures")


if __name__ == "__main__":
    main()

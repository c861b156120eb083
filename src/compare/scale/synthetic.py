"""A large synthetic corpus of city and county plans, recombined from the sample plans.

Scaling the pipeline needs thousands of documents of the right shape; the sample corpus has
ten. Each synthetic document is one sample source (``corpora/provincial/sources/*.txt``)
rewritten as the plan of a city or county, the way cities and counties copied their
province's plan:

- the place changes (湖南省 → 株洲市 or 长沙县) in the header, title and text; department
  prefixes and level words follow (（省经信委负责） → （市经信委负责）, 全省 → 全市, 我省 → 我县);
- a new red header, document number (株政发〔2016〕37号), addressees, signature and date;
- in every section after 总体要求, items are dropped, swapped, merged with their neighbour,
  or borrowed from another sample plan's section on the same theme (电子商务, 农业 …);
- quantitative targets are scaled to the place (a county's 亿元 are a province's 万元) and
  percentages jittered.

Document ``i`` of seed ``S`` depends only on ``(S, i)`` and the sample sources, so the first 30
documents of a 300-document corpus are the 30-document corpus. PDFs are drawn by the
renderer of ``scripts/render_corpus.py`` (deterministic bytes; needs Debian's
``fonts-wqy-zenhei``). The corpus is not a test fixture: it is generated into a folder given
on the command line (``compare scale generate``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import random
import re
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType

from compare.errors import CompareError, SettingsError
from compare.ingest.metadata import CITY_PROVINCE
from compare.ingest.numbering import CIRCLED_NUMBERS, marker_of

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SOURCES = PROJECT_ROOT / "corpora" / "provincial" / "sources"
RENDER_SCRIPT = PROJECT_ROOT / "scripts" / "render_corpus.py"
#: Where the sources of the generated PDFs are written, inside the output folder.
SOURCES_FOLDER = "sources"
MANIFEST_FILE = "synthetic.json"
MAX_DOCUMENTS = 100_000
#: Attempts at a document whose text repeats an earlier one (in practice one is enough).
MAX_ATTEMPTS = 5

#: Counties (and districts) of the cities that metadata knows; a county plan is made for one.
COUNTIES: dict[str, tuple[str, ...]] = {
    "成都": ("郫县", "大邑县", "蒲江县"), "杭州": ("桐庐县", "淳安县"), "宁波": ("象山县", "宁海县"),
    "温州": ("永嘉县", "平阳县"), "广州": ("增城区", "从化区"), "深圳": ("南山区", "福田区"),
    "东莞": ("松山湖区",), "佛山": ("顺德区", "南海区"), "武汉": ("江夏区", "黄陂区"),
    "南京": ("高淳区", "溧水区"), "苏州": ("吴江区",), "无锡": ("锡山区", "惠山区"), "青岛": ("崂山区",),
    "济南": ("平阴县", "商河县"), "烟台": ("长岛县",), "长沙": ("长沙县", "宁乡县", "望城区"),
    "西安": ("周至县", "蓝田县"), "郑州": ("中牟县",), "合肥": ("肥东县", "肥西县", "长丰县"),
    "福州": ("闽侯县", "连江县", "罗源县"), "厦门": ("同安区", "翔安区"), "贵阳": ("开阳县", "息烽县", "修文县"),
    "昆明": ("宜良县", "嵩明县"), "南宁": ("隆安县", "马山县"), "南昌": ("南昌县", "进贤县", "安义县"),
    "石家庄": ("正定县", "行唐县"), "太原": ("清徐县", "阳曲县"), "沈阳": ("康平县", "法库县"),
    "大连": ("长海县",), "长春": ("农安县",), "哈尔滨": ("依兰县", "宾县"), "兰州": ("永登县", "皋兰县", "榆中县"),
    "西宁": ("湟中县", "湟源县"), "银川": ("永宁县", "贺兰县"), "乌鲁木齐": ("乌鲁木齐县",),
    "呼和浩特": ("托克托县", "和林格尔县"), "海口": ("秀英区", "龙华区"), "拉萨": ("林周县", "墨竹工卡县"),
}  # fmt: skip
#: Share of synthetic documents that are county (or district) plans; the rest are city plans.
COUNTY_SHARE = 0.45

#: Item perturbations, per item or per list of sibling items (outside 总体要求).
P_DROP_ACTION = 0.08
P_DROP_ITEM = 0.15
P_MERGE = 0.1
P_SWAP = 0.15
P_BORROW = 0.3
#: Targets: absolute quantities scale with the place's size (range of the factor, by the
#: sample's level and the new level); percentages move by up to this many points.
LEVEL_SCALE: dict[tuple[str, str], tuple[float, float]] = {
    ("省", "市"): (0.08, 0.3),
    ("省", "县"): (0.01, 0.06),
    ("市", "市"): (0.5, 1.5),
    ("市", "县"): (0.05, 0.2),
}
PERCENT_JITTER = 8
#: A city or county plan follows its sample (provincial) plan by this many days …
DAYS_AFTER_SAMPLE = (20, 400)
#: … and is printed (印发, in the 版记) this many days after it is signed.
DAYS_TO_PRINT = 2
MAX_PERCENT = 100

#: Themes of action sections, for borrowing items between plans: (theme, words that name it).
THEMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("创业创新", ("创业创新", "众创")), ("制造", ("制造", "工业")), ("农业", ("农业",)),
    ("能源", ("能源",)), ("金融", ("金融",)), ("民生", ("益民", "民生", "便民", "健康", "教育")),
    ("物流", ("物流",)), ("电子商务", ("电子商务", "电商", "商贸")), ("交通", ("交通",)),
    ("生态", ("生态", "绿色")), ("人工智能", ("人工智能", "智能终端")), ("旅游", ("旅游",)),
    ("文化", ("文化",)), ("政务", ("政务", "政府治理", "智慧城市")),
)  # fmt: skip
ADDRESSEES = {
    "市": "各县（市、区）人民政府，市政府各部门、各直属机构：",
    "县": "各乡镇人民政府、街道办事处，县政府各部门、各直属机构：",
}
_PLACE_HEADER = re.compile(r"^(?P<short>[\u4e00-\u9fff]{2,4}?)(?P<level>省|市)人民政府")
_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
_DATE_PARTS = re.compile(r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日")
_TOP_MARKER = 0
#: A department group at the end of an item: （省经信委牵头，省科技厅配合） or （责任单位：市经信委）.
_DEPARTMENTS = re.compile(r"（[^（）]*(?:负责|牵头|配合|责任单位)[^（）]*）$")
_DEPARTMENT_PREFIX = "（、，：；"
_PROVINCIAL_OFFICE = re.compile(r"厅(?=[、，；）]|负责|牵头|配合)")
_TARGET = re.compile(
    r"(?<![\d.])(?P<n>\d+(?:\.\d+)?)(?P<unit>%|％|万|亿|个|家|所|条|户|项|座|台|平方米|公里|人)"
)
_PERCENT_UNITS = frozenset({"%", "％"})


@dataclass(frozen=True)
class Place:
    """A city or county that gets a synthetic plan."""

    name: str  # 株洲市, 长沙县
    short: str  # 株洲, 长沙县
    level: str  # 市 or 县
    province: str

    @property
    def kind(self) -> str:
        return "county" if self.level == "县" else "city"


@dataclass
class Node:
    """A numbered paragraph with its unnumbered continuation lines and its numbered children."""

    level: int
    text: str
    lines: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)


@dataclass(frozen=True)
class Sample:
    """One sample plan, split into its header, its numbered body and its tail."""

    stem: str
    short: str  # 湖南, 成都
    level: str  # 省 or 市
    province: str
    header: tuple[str, ...]
    body: Node
    tail: tuple[str, ...]


@dataclass(frozen=True)
class Synthetic:
    """One generated document: its file name, its source text, and where it came from."""

    index: int
    file_name: str
    text: str
    sample: str
    place: Place
    changes: dict[str, int]


def _cn(n: int) -> str:
    digits = "一二三四五六七八九"
    if n <= 0 or n >= 100:
        raise SettingsError(f"cannot number {n} in Chinese numerals (1-99)")
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else digits[tens - 1] + "十")
    return head + (digits[ones - 1] if ones else "")


def _marker(level: int, n: int) -> str:
    forms = (f"{_cn(n)}、", f"（{_cn(n)}）", f"{n}.", f"（{n}）")
    return forms[level] if level < len(forms) else CIRCLED_NUMBERS[min(n, len(CIRCLED_NUMBERS)) - 1]


def _parse(stem: str, text: str) -> Sample:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    red = next((line for line in lines if line.startswith("@red ")), "")
    match = _PLACE_HEADER.match(red.removeprefix("@red ").strip())
    if not match:
        raise CompareError(
            f"{stem}: the @red header does not name a 省 or 市 人民政府; cannot tell the sample's place"
        )
    short, level = match["short"], match["level"]
    province = short if level == "省" else CITY_PROVINCE.get(short, "")
    start = next(
        (i for i, line in enumerate(lines) if (m := marker_of(line)) and m.level == _TOP_MARKER), None
    )
    if start is None:
        raise CompareError(f"{stem}: no top-level heading (一、) in the source; not a plan")
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("@")), len(lines))
    root = Node(level=-1, text="")
    stack = [root]
    for line in lines[start:end]:
        marker = marker_of(line)
        if marker is None:
            stack[-1].lines.append(line)
            continue
        while stack[-1].level >= marker.level:
            stack.pop()
        node = Node(level=marker.level, text=line[marker.length :])
        stack[-1].children.append(node)
        stack.append(node)
    return Sample(stem, short, level, province, tuple(lines[:start]), root, tuple(lines[end:]))


@cache
def samples(folder: Path = DEFAULT_SOURCES) -> tuple[Sample, ...]:
    """The sample plans, parsed, in file-name order."""
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    if not files:
        raise CompareError(f"{folder}: no sample sources (*.txt); run from a checkout of the project")
    return tuple(_parse(f.stem, f.read_text(encoding="utf-8")) for f in files)


def _theme(heading: str) -> str | None:
    return next((theme for theme, words in THEMES if any(w in heading for w in words)), None)


@cache
def _borrowable(folder: Path) -> dict[str, tuple[tuple[str, str], ...]]:
    """Per theme, the leaf items (sample stem, text) of every sample's action sections."""
    pool: dict[str, list[tuple[str, str]]] = {}
    for sample in samples(folder):
        for section in sample.body.children[1:]:
            for action in section.children:
                theme = _theme(action.text)
                if theme is None:
                    continue
                for item in action.children:
                    if not item.children and not item.lines:
                        pool.setdefault(theme, []).append((sample.stem, item.text))
    return {theme: tuple(items) for theme, items in pool.items()}


def _place(rng: random.Random, sample: Sample) -> Place:
    cities = sorted(c for c, p in CITY_PROVINCE.items() if p == sample.province and c in COUNTIES)
    city = rng.choice(cities or sorted(COUNTIES))
    if sample.level == "市" and sample.short in COUNTIES and rng.random() < COUNTY_SHARE:
        city = sample.short  # a county of the sample city
    if rng.random() < COUNTY_SHARE:
        county = rng.choice(COUNTIES[city])
        return Place(name=county, short=county, level="县", province=CITY_PROVINCE[city])
    return Place(name=f"{city}市", short=city, level="市", province=CITY_PROVINCE[city])


@cache
def _swap_table(short: str, old: str, place: Place) -> tuple[re.Pattern[str], dict[str, str]]:
    table = {short + old: place.name, short: place.short}
    if old == "省":
        table |= {"人民政府办公厅": "人民政府办公室", "省军区": "军分区"}
    for word in ("全", "我", "本"):
        table[word + old] = word + place.level
    for suffix in ("人民政府", "政府", "委", "级", "直", "人大", "政协"):
        table[old + suffix] = place.level + suffix
    return re.compile("|".join(re.escape(k) for k in sorted(table, key=len, reverse=True))), table


def swap_place(text: str, sample: Sample, place: Place) -> str:
    """``text`` of ``sample`` as written for ``place``: names, department prefixes and level words."""
    pattern, table = _swap_table(sample.short, sample.level, place)
    text = pattern.sub(lambda m: table[m.group(0)], text)
    old, new = sample.level, place.level
    if old == new:
        return text
    group = _DEPARTMENTS.search(text)
    if group:
        departments = re.sub(rf"(?<=[{_DEPARTMENT_PREFIX}]){old}(?=[\u4e00-\u9fff])", new, group.group(0))
        if old == "省":  # a city's or county's departments are bureaus (局), not a province's 厅
            departments = _PROVINCIAL_OFFICE.sub("局", departments)
        text = text[: group.start()] + departments
    return text


def _vary_targets(text: str, rng: random.Random, scale: tuple[float, float]) -> str:
    def replace(match: re.Match[str]) -> str:
        number, unit = match["n"], match["unit"]
        value = float(number)
        decimals = len(number.partition(".")[2])
        if unit in _PERCENT_UNITS:
            if value >= MAX_PERCENT:
                return match.group(0)
            value = min(MAX_PERCENT - 1, max(1.0, value + rng.randint(-PERCENT_JITTER, PERCENT_JITTER)))
        else:
            value *= rng.uniform(*scale)
            decimals = max(decimals, 0 if value >= 10 else (1 if value >= 1 else 2))
        shown = f"{value:.{decimals}f}" if decimals else str(max(1, round(value)))
        return shown + unit

    return _TARGET.sub(replace, text)


def _without_departments(text: str) -> str:
    return _DEPARTMENTS.sub("", text).rstrip()


def _vary_items(
    items: list[Node], rng: random.Random, theme: str | None, sample: Sample, place: Place,
    folder: Path, changes: dict[str, int], *, actions: bool,
) -> list[Node]:  # fmt: skip
    """Drop, merge, swap and borrow among sibling items (never leaving the list empty)."""
    kept = [n for n in items if rng.random() >= (P_DROP_ACTION if actions else P_DROP_ITEM)] or items[:1]
    changes["dropped"] += len(items) - len(kept)
    if actions:
        return kept
    merged: list[Node] = []
    for node in kept:
        if merged and not node.children and not merged[-1].children and rng.random() < P_MERGE:
            previous = merged[-1]
            merged[-1] = Node(
                previous.level, _without_departments(previous.text) + node.text, previous.lines + node.lines
            )
            changes["merged"] += 1
        else:
            merged.append(node)
    for i in range(len(merged) - 1):
        if rng.random() < P_SWAP:
            merged[i], merged[i + 1] = merged[i + 1], merged[i]
            changes["swapped"] += 1
    pool = [(stem, text) for stem, text in _borrowable(folder).get(theme or "", ()) if stem != sample.stem]
    if pool and merged and not merged[0].children and rng.random() < P_BORROW:
        stem, text = rng.choice(pool)
        donor = next(s for s in samples(folder) if s.stem == stem)
        merged.insert(rng.randint(0, len(merged)), Node(merged[0].level, swap_place(text, donor, place)))
        changes["borrowed"] += 1
    return merged


def _emit(node: Node, out: list[str], rewrite: object) -> None:
    for index, child in enumerate(node.children, start=1):
        out.append(_marker(child.level, index) + rewrite(child.text))  # type: ignore[operator]
        out.extend(rewrite(line) for line in child.lines)  # type: ignore[operator]
        _emit(child, out, rewrite)


def _varied_body(
    sample: Sample, rng: random.Random, place: Place, folder: Path, changes: dict[str, int]
) -> Node:
    def vary(node: Node, depth: int, theme: str | None) -> Node:
        children = node.children
        if depth >= 1 and children:
            children = _vary_items(
                children, rng, theme, sample, place, folder, changes, actions=depth == 1 and len(children) > 3
            )
        return Node(
            node.level,
            node.text,
            list(node.lines),
            [vary(child, depth + 1, _theme(child.text) or theme) for child in children],
        )

    sections = sample.body.children
    return Node(-1, "", [], sections[:1] + [vary(s, 1, None) for s in sections[1:]])


def _issue_date(sample: Sample) -> dt.date:
    for line in sample.header:
        if line.startswith("@right") and (match := _DATE_PARTS.search(line)):
            return dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
    raise CompareError(f"{sample.stem}: no signature date (@right YYYY年M月D日) in the source")


def _chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def document(index: int, seed: int, folder: Path = DEFAULT_SOURCES, attempt: int = 0) -> Synthetic:
    """Synthetic document ``index`` of corpus ``seed`` (its source text, ready to render)."""
    rng = random.Random(f"compare-synthetic:{seed}:{index}:{attempt}")
    sample = rng.choice(samples(folder))
    place = _place(rng, sample)
    changes = {"dropped": 0, "merged": 0, "swapped": 0, "borrowed": 0}
    scale = LEVEL_SCALE[(sample.level, place.level)]
    issued = _issue_date(sample) + dt.timedelta(days=rng.randint(*DAYS_AFTER_SAMPLE))
    printed = issued + dt.timedelta(days=DAYS_TO_PRINT)
    year = issued.year
    office = any("办公厅" in line for line in sample.header[:1])
    abbreviation = place.short[0] + ("县" if place.level == "县" else "")
    number = f"{abbreviation}政{'办' if office else ''}发〔{year}〕{rng.randint(1, 150)}号"

    def rewrite(line: str) -> str:
        return _vary_targets(swap_place(line, sample, place), rng, scale)

    header: list[str] = []
    notice_seen = addressed = False
    for line in sample.header:
        if line.startswith("@docno"):
            header.append(f"@docno {number}")
        elif line.startswith(("@right", "@cc")) and _DATE.search(line):
            header.append(_DATE.sub(_chinese_date(issued), swap_place(line, sample, place)))
        elif notice_seen and not addressed and not line.startswith("@") and line.endswith("："):
            header.append(ADDRESSEES[place.level])
            addressed = True
        else:
            notice_seen = notice_seen or line.startswith("@title")
            header.append(swap_place(line, sample, place))
    body: list[str] = []
    _emit(_varied_body(sample, rng, place, folder, changes), body, rewrite)
    tail = [_DATE.sub(_chinese_date(printed), swap_place(line, sample, place)) for line in sample.tail]
    text = "\n".join(header + body + tail) + "\n"
    file_name = f"{index:05d}-{place.kind}-{sample.stem}.pdf"
    return Synthetic(index, file_name, text, sample.stem, place, changes)


def documents(count: int, seed: int, folder: Path = DEFAULT_SOURCES) -> Iterator[Synthetic]:
    """Documents ``0 … count-1`` of corpus ``seed``, each text distinct from the ones before it."""
    seen: set[str] = set()
    for index in range(count):
        for attempt in range(MAX_ATTEMPTS):
            doc = document(index, seed, folder, attempt)
            digest = hashlib.sha256(doc.text.encode()).hexdigest()
            if digest not in seen:
                seen.add(digest)
                yield doc
                break
        else:
            raise CompareError(
                f"document {index} of seed {seed}: {MAX_ATTEMPTS} attempts all repeat an earlier text"
            )


@cache
def _render_module() -> ModuleType:
    """``scripts/render_corpus.py`` (the sample corpus's renderer), imported by path."""
    if not RENDER_SCRIPT.is_file():
        raise CompareError(f"{RENDER_SCRIPT}: renderer not found; run compare from a checkout of the project")
    spec = importlib.util.spec_from_file_location("compare_render_corpus", RENDER_SCRIPT)
    if spec is None or spec.loader is None:
        raise CompareError(f"{RENDER_SCRIPT}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _prepare_renderer(font: str | None) -> None:
    module = _render_module()
    try:
        module.register_font(module.find_font(font))
    except module.FontNotFound as exc:
        raise CompareError(str(exc)) from exc


def render(text: str, out: Path, font: str | None = None) -> int:
    """Draw one source text to ``out`` as a PDF (A4 公文 layout); returns the page count."""
    _prepare_renderer(font)
    module = _render_module()
    blocks = module.parse_source(text)
    pages: int = module.Renderer(out, module.first_title(blocks)).render(blocks)
    return pages


def _render_job(job: tuple[str, str, str | None]) -> int:
    text, out, font = job
    return render(text, Path(out), font)


@dataclass(frozen=True)
class Generated:
    """What ``generate`` did."""

    folder: Path
    documents: int
    rendered: int
    reused: int
    seconds: float


def generate(
    out: Path,
    count: int,
    seed: int,
    *,
    jobs: int = 1,
    font: str | None = None,
    sources: Path = DEFAULT_SOURCES,
) -> Generated:
    """Write ``count`` synthetic PDFs (and their sources, and a manifest) into ``out``.

    A PDF whose source text is unchanged since an earlier call is kept as it is (generation
    is deterministic, so it would be redrawn byte for byte).
    """
    if not 1 <= count <= MAX_DOCUMENTS:
        raise SettingsError(f"documents must be between 1 and {MAX_DOCUMENTS}, got {count}")
    if jobs < 1:
        raise SettingsError(f"jobs must be at least 1, got {jobs}")
    started = time.perf_counter()
    _prepare_renderer(font)
    source_folder = out / SOURCES_FOLDER
    source_folder.mkdir(parents=True, exist_ok=True)
    manifest, todo = [], []
    for doc in documents(count, seed, sources):
        source = source_folder / (Path(doc.file_name).stem + ".txt")
        pdf = out / doc.file_name
        if not (pdf.is_file() and source.is_file() and source.read_text(encoding="utf-8") == doc.text):
            source.write_text(doc.text, encoding="utf-8")
            todo.append((doc.text, str(pdf), font))
        manifest.append(
            {"file_name": doc.file_name, "sample": doc.sample, "place": doc.place.name, "level": doc.place.kind,
             "province": doc.place.province, **doc.changes}
        )  # fmt: skip
    if jobs == 1 or len(todo) < 2 * jobs:
        for job in todo:
            _render_job(job)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(_render_job, todo, chunksize=max(1, len(todo) // (8 * jobs))))
    record = {"seed": seed, "documents": count, "sources": str(sources), "files": manifest}
    (out / MANIFEST_FILE).write_text(
        json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return Generated(out, count, len(todo), count - len(todo), time.perf_counter() - started)


def file_names(out: Path) -> Sequence[str]:
    """The PDFs a manifest in ``out`` lists, in generation order."""
    path = out / MANIFEST_FILE
    if not path.is_file():
        raise CompareError(f"{path}: no manifest; generate the corpus with `compare scale generate`")
    return [f["file_name"] for f in json.loads(path.read_text(encoding="utf-8"))["files"]]

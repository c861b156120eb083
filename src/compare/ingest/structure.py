"""What a clause says about who and how much: responsible departments and quantitative targets.

Departments come from the parentheses that close an item, as provincial plans print them:
``（省发展改革委、省科技厅负责）``, ``（省经济和信息化委牵头，省科技厅配合）``,
``（牵头单位：省商务厅；配合单位：省农委）``. A name followed by 牵头 is the ``lead``, by
配合/参与/协助 a ``support``, by 负责 (or by nothing) ``responsible``. A row of a
task-division table (序号 | 重点任务 | 牵头单位 | 配合单位 | 完成时限) names them in its
department columns, whose header gives the role (``row_departments``).

Targets are a number with a unit after a verb of reaching (达到, 突破, 超过, 不低于 …)
or after a verb of building (建成, 培育, 新增 …): ``全省固定宽带家庭普及率达到70%`` gives
indicator 固定宽带家庭普及率, value 70, unit %, and the year of the nearest ``到2018年`` or
``2017年`` before it in the clause.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from compare.ingest.tables import department_cells, is_header_row, is_table_row
from compare.records import Clause, ClauseKind, Department, Target

ROLE_LEAD = "lead"
ROLE_SUPPORT = "support"
ROLE_RESPONSIBLE = "responsible"

_OPENING = "（(〔[【"
_CLOSING = "）)〕]】"
#: Role words at the end of a group of names, longest first.
_ROLE_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("按职责分工负责", ROLE_RESPONSIBLE),
    ("按职责分工落实", ROLE_RESPONSIBLE),
    ("分别负责", ROLE_RESPONSIBLE),
    ("共同负责", ROLE_RESPONSIBLE),
    ("负责落实", ROLE_RESPONSIBLE),
    ("牵头负责", ROLE_LEAD),
    ("牵头", ROLE_LEAD),
    ("配合", ROLE_SUPPORT),
    ("参与", ROLE_SUPPORT),
    ("协助", ROLE_SUPPORT),
    ("协同", ROLE_SUPPORT),
    ("负责", ROLE_RESPONSIBLE),
)
#: Labels in front of a group of names: 牵头单位：…；配合单位：….
_ROLE_LABELS: tuple[tuple[str, str], ...] = (
    ("牵头单位", ROLE_LEAD),
    ("牵头部门", ROLE_LEAD),
    ("责任单位", ROLE_RESPONSIBLE),
    ("责任部门", ROLE_RESPONSIBLE),
    ("配合单位", ROLE_SUPPORT),
    ("配合部门", ROLE_SUPPORT),
    ("参与单位", ROLE_SUPPORT),
)
#: How the names of bodies end; parentheses whose names all end so are departments even without a role word.
_BODY_SUFFIX = re.compile(
    r"(厅|委|局|办|部|院|会|银行|支行|分行|中心|政府|公司|社|室|处|署|所|集团|银监局|管委会|海关|党委|团委|馆)$"
)
#: Header labels of a department column, and the role they give (any other: responsible).
_COLUMN_ROLES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"牵头"), ROLE_LEAD),
    (re.compile(r"配合|参与|协助|协办"), ROLE_SUPPORT),
)
_ASIDE = re.compile(r"^(以下简称|下称|简称|含|包括|即|如|详见|见|参见)")
_NAME_SEPARATORS = re.compile(r"[、，,]")
_GROUP_SEPARATORS = re.compile(r"[；;]|，(?=[^，]*?(?:牵头|配合|参与|协助|协同|负责))")
#: Parenthesized text longer than this is an aside, not a list of departments.
MAX_DEPARTMENT_TEXT = 120
#: Without a role word, a name shorter than this is not taken for a body (（试行）, （草案）).
MIN_NAME_CHARS = 3
#: A department name is at most this long.
MAX_NAME_CHARS = 30


@dataclass(frozen=True)
class DepartmentMention:
    """A department named at the end of a clause, with its role."""

    name: str
    role: str


@dataclass(frozen=True)
class TargetMention:
    """A quantitative target found in a clause."""

    indicator: str
    value: float
    unit: str
    year: int | None
    text: str


def trailing_parenthesis(text: str) -> tuple[int, str] | None:
    """Where the parentheses that close ``text`` open, and what they hold (nested brackets allowed)."""
    stripped = text.rstrip().rstrip("。.；;")
    if not stripped or stripped[-1] not in _CLOSING:
        return None
    depth = 0
    for index in range(len(stripped) - 1, -1, -1):
        char = stripped[index]
        if char in _CLOSING:
            depth += 1
        elif char in _OPENING:
            depth -= 1
            if depth == 0:
                return index, stripped[index + 1 : -1]
    return None


def _group_role(group: str) -> tuple[str, str]:
    for label, role in _ROLE_LABELS:
        if group.startswith(label):
            names, suffix_role = _group_role(group[len(label) :].lstrip("：:"))
            return names, suffix_role if suffix_role != ROLE_RESPONSIBLE else role
    for suffix, role in _ROLE_SUFFIXES:
        if group.endswith(suffix):
            return group[: -len(suffix)], role
    return group, ROLE_RESPONSIBLE


def departments(text: str) -> tuple[DepartmentMention, ...]:
    """The departments named in the parentheses that close a clause (none when they are not a list of bodies)."""
    found = trailing_parenthesis(text)
    if found is None:
        return ()
    inner = found[1].strip()
    if not inner or len(inner) > MAX_DEPARTMENT_TEXT or _ASIDE.match(inner):
        return ()
    has_role = any(word in inner for word, _ in (*_ROLE_SUFFIXES, *_ROLE_LABELS))
    result: list[DepartmentMention] = []
    for group in _GROUP_SEPARATORS.split(inner):
        names_text, role = _group_role(group.strip())
        for raw in _NAME_SEPARATORS.split(names_text):
            name = raw.strip().removesuffix("等部门").removesuffix("等单位").removesuffix("等")
            if not name:
                continue
            if len(name) > MAX_NAME_CHARS or (
                not has_role and (len(name) < MIN_NAME_CHARS or not _BODY_SUFFIX.search(name))
            ):
                return ()
            result.append(DepartmentMention(name=name, role=role))
    return tuple(result)


def _names(text: str) -> list[str]:
    return [
        raw.strip().removesuffix("等部门").removesuffix("等单位").removesuffix("等")
        for raw in _NAME_SEPARATORS.split(text)
        if raw.strip()
    ]


def row_departments(row: str, header: str | None) -> tuple[DepartmentMention, ...]:
    """The departments named in the department columns of a table row, with the role its header gives.

    ``省经信委 | 省科技厅、省通信管理局`` under ``牵头单位 | 配合单位`` gives a lead and two
    supports; a role word in the cell itself (``省商务厅牵头``) wins over the column's.
    """
    result: list[DepartmentMention] = []
    for label, cell in department_cells(row, header):
        column_role = next(
            (role for pattern, role in _COLUMN_ROLES if pattern.search(label)), ROLE_RESPONSIBLE
        )
        for group in _GROUP_SEPARATORS.split(cell):
            names_text, role = _group_role(group.strip())
            if names_text == group.strip():
                role = column_role
            result.extend(
                DepartmentMention(name=name, role=role)
                for name in _names(names_text)
                if len(name) <= MAX_NAME_CHARS
            )
    return tuple(result)


# ---- targets ---------------------------------------------------------------------------

_NUMBER = r"(?P<value>\d+(?:\.\d+)?)"
#: A count or amount may carry a scale word: 1.5万件, 300万平方米, 3000亿元 (kept in the unit).
_SCALE = r"(?:万亿|千万|百万|亿|万|千)?"
_COUNTED = r"(?:个|家|项|所|座|条|户|人次|人|套|台|件|处|张|辆|名|组|门)"
_COUNT_UNIT = rf"(?P<unit>{_SCALE}{_COUNTED}|GB|TB|PB)"
_UNIT = (
    rf"(?P<unit>%|％|个百分点|{_SCALE}(?:元|{_COUNTED}|公里|千米|吨|平方米|亩)"
    r"|Mbps|Gbps|GB|TB|PB|T(?![A-Za-z])|G(?![A-Za-z])|M(?![A-Za-z])|兆|倍)?"
)
_TAIL = r"(?P<tail>以上|左右|以内)?"
_REACH_VERBS = (
    r"力争达到|达到|超过|突破|提高到|提升到|提高至|提升至|增长到|增加到|扩大到|不低于|不少于|不超过|保持在|控制在"
    r"|降低到|降低至|下降到|下降至|降至|年均增长|增长|达"
)
_BUILD_VERBS = (
    r"建成|新建|建设|培育|打造|新增|引进|形成|创建|建立|发展|培养|实施|推出|认定|扶持|推广应用|推广"
)
_STOP = "，,；;。：:！？"
_REACH = re.compile(rf"(?P<indicator>[^{_STOP}、]{{2,40}}?)(?P<verb>{_REACH_VERBS}){_NUMBER}{_UNIT}{_TAIL}")
_BUILD = re.compile(
    rf"(?P<verb>{_BUILD_VERBS})(?P<indicator>[^{_STOP}、\d]{{2,30}}?){_NUMBER}{_COUNT_UNIT}{_TAIL}"
)
_LISTED = re.compile(rf"、(?P<indicator>[^{_STOP}、\d]{{2,30}}?){_NUMBER}{_COUNT_UNIT}{_TAIL}")
_COUNT_FIRST = re.compile(
    rf"(?P<verb>{_BUILD_VERBS}){_NUMBER}{_COUNT_UNIT}{_TAIL}(?P<indicator>[^{_STOP}、\d]{{2,30}})"
)
#: A part of a total stated before it: ……交易规模超过1.5万亿元，其中网上零售3000亿元.
_PART_OF = re.compile(rf"其中(?P<indicator>[^{_STOP}、\d]{{2,30}}?){_NUMBER}{_UNIT.removesuffix('?')}{_TAIL}")
_YEAR = re.compile(r"(?:到|至|在)?(?P<year>20[0-4]\d)年(?:底|前|末|内)?")
#: A year inside an indicator's words (推动网上办理率2018年达到90%): the target's year, not its name.
_YEAR_IN_WORDS = re.compile(r"(?:到|至|在)?20[0-4]\d年(?:底|前|末|内)?")
_INDICATOR_PREFIX = re.compile(
    r"^(?:(?:到|至)?20\d\d年(?:底|前|末|内)?|全省|全市|全区|全州|全县|我省|我市|我区|本省|本市|力争|基本|其中|"
    r"同时|实现|使|各地|累计|总体上|初步)+"
)
_INDICATOR_SUFFIX = re.compile(r"(?:普遍|均|都|全部|基本|力争|要|将|分别|总体|累计|稳定|逐步)+$")
_GROWTH_VERBS = ("年均增长", "增长")
#: Targets are about these years; other four-digit numbers are not target years.
YEAR_RANGE = (2000, 2049)


def _indicator(raw: str) -> str:
    text = _INDICATOR_SUFFIX.sub("", _INDICATOR_PREFIX.sub("", raw.strip()).strip())
    text = _INDICATOR_SUFFIX.sub("", _YEAR_IN_WORDS.sub("", text)).strip()
    if text.count("“") != text.count("”"):
        text = text.strip("“”")
    return text


def _year_before(text: str, position: int) -> int | None:
    years = [int(m.group("year")) for m in _YEAR.finditer(text, 0, position)]
    return years[-1] if years and YEAR_RANGE[0] <= years[-1] <= YEAR_RANGE[1] else None


def _sentence(text: str, start: int, end: int) -> str:
    left = max(text.rfind(c, 0, start) for c in "。；;") + 1
    rights = [i for i in (text.find(c, end) for c in "。；;") if i >= 0]
    return text[left : min(rights) if rights else len(text)].strip()


def _split_rates(indicator: str) -> list[str]:
    """``A率和B率`` names two indicators that share one target."""
    parts = re.split(r"和|及|与|、", indicator)
    if len(parts) > 1 and all(p.endswith("率") and len(p) >= 2 for p in parts):
        return parts
    return [indicator]


def targets(text: str) -> tuple[TargetMention, ...]:
    """Quantitative targets stated in a clause."""
    found: list[tuple[int, TargetMention]] = []
    taken: list[tuple[int, int]] = []

    def add(match: re.Match[str], indicator: str, start: int | None = None) -> None:
        start = match.start() if start is None else start
        end, value, unit = match.end(), match.group("value"), match.group("unit")
        if any(start < e and end > s for s, e in taken) or not indicator:
            return
        if unit is None and text[end : end + 1] in ("年", "月", "日"):
            return  # a date, not a value
        taken.append((start, end))
        year = _year_before(text, match.start("value"))
        sentence = _sentence(text, start, end)
        for name in _split_rates(indicator):
            unit_text = (unit or "").replace("％", "%")
            found.append((start, TargetMention(name, float(value), unit_text, year, sentence)))

    for match in _REACH.finditer(text):
        indicator = _indicator(match.group("indicator"))
        if match.group("verb") in _GROWTH_VERBS:
            indicator += match.group("verb")
        add(match, indicator, match.start("indicator"))
    for match in _PART_OF.finditer(text):
        add(match, _indicator(match.group("indicator")))
    for match in _COUNT_FIRST.finditer(text):
        add(match, _indicator(match.group("indicator")))
    for match in _BUILD.finditer(text):
        add(match, _indicator(match.group("indicator")))
        position = match.end()
        while listed := _LISTED.match(text, position):
            add(listed, _indicator(listed.group("indicator")))
            position = listed.end()
    return tuple(target for _, target in sorted(found, key=lambda pair: pair[0]))


# ---- records -----------------------------------------------------------------------------

#: Marks the parts of a split item in a clause path (``二.（三）.2#2``).
PART_MARK = "#"


def clause_departments(clauses: Sequence[Clause]) -> tuple[Department, ...]:
    """Department records for a document's clauses.

    The parts of a split item share the departments that close its last part. A table row
    takes those of its department columns (by the header row above it).
    """
    result: list[Department] = []
    header: str | None = None
    index = 0
    while index < len(clauses):
        clause = clauses[index]
        if is_table_row(clause.text):
            if is_header_row(clause.text):
                header = clause.text
            elif clause.kind not in (ClauseKind.BOILERPLATE, ClauseKind.HEADING):
                mentions = row_departments(clause.text, header)
                result.extend(Department(clause.clause_id, clause.doc_id, m.name, m.role) for m in mentions)
            index += 1
            continue
        header = None
        group = [clause]
        if PART_MARK in clause.path:
            base = clause.path.split(PART_MARK)[0]
            while index + len(group) < len(clauses) and clauses[index + len(group)].path.startswith(
                base + PART_MARK
            ):
                group.append(clauses[index + len(group)])
        index += len(group)
        if clause.kind in (ClauseKind.BOILERPLATE, ClauseKind.HEADING):
            continue
        for mention in departments(group[-1].text):
            result.extend(Department(c.clause_id, c.doc_id, mention.name, mention.role) for c in group)
    return tuple(result)


def clause_targets(clauses: Sequence[Clause]) -> tuple[Target, ...]:
    """Target records for a document's clauses (all but boilerplate and headings)."""
    return tuple(
        Target(c.clause_id, c.doc_id, t.indicator, t.value, t.unit, t.year, t.text)
        for c in clauses
        if c.kind not in (ClauseKind.BOILERPLATE, ClauseKind.HEADING)
        for t in targets(c.text)
    )

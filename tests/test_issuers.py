"""Documents of every issuer: the State Council, a ministry, several ministries jointly (without
文号), a city, a province, and a document whose issuer was not read.

The warehouse is the six sample plans of ``tests/data/report`` with four of them given the
metadata extraction reads from national, ministry, joint and unidentified documents (no
province, no city, no level). Every part that reads the warehouse must take them: the views
(``issuer_level``, plan holders), the committee summary, the HTML and PDF report (national and
ministry documents in a group of their own, never ranked with the provinces), the review
workbook and the ``status``, ``query`` and ``export`` commands. The issuer levels the views
give the real documents of ``corpora/`` are checked against ``corpora/relevance.tsv``.
"""

from __future__ import annotations

import csv
import html
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook
from scripts import synthetic_corpus
from typer.testing import CliRunner

from compare.cli.main import app
from compare.errors import CompareError, WarehouseError
from compare.ingest import extract
from compare.ingest.metadata import metadata
from compare.ingest.segment import full_text
from compare.report import data as rd
from compare.report.pdf import chromium_binary
from compare.report.render import committee_summary_markdown, report_html, write_report
from compare.review.workbook import export_workbook
from compare.store import warehouse
from tests.test_report import MEASURES, SAMPLE_TABLES

ROOT = Path(__file__).resolve().parents[1]
RELEVANCE = ROOT / "corpora" / "relevance.tsv"
STATE_COUNCIL = "state-council-2016-28.pdf"
MINISTRY = "miit-2017-315-ai.pdf"
JOINT = "miit-sac-standards.pdf"
UNIDENTIFIED = "unidentified.pdf"
CITY = "chengdu-2016-12.pdf"
PROVINCE = "zhejiang-2016-2.pdf"
#: Sample plan -> the document it stands for here: file name and what extraction reads from it.
NOT_PROVINCIAL = {
    "shandong-2016-14.pdf": {
        "file_name": STATE_COUNCIL,
        "issuer": "国务院",
        "doc_number": "国发〔2016〕28号",
        "title": "国务院关于深化制造业与互联网融合发展的指导意见",
    },
    "hunan-2015-86.pdf": {
        "file_name": MINISTRY,
        "issuer": "工业和信息化部",
        "doc_number": "工信部科〔2017〕315号",
        "title": "促进新一代人工智能产业发展三年行动计划（2018—2020年）",
    },
    "guangdong-2015-53.pdf": {
        "file_name": JOINT,
        "issuer": "工业和信息化部国家标准化管理委员会",
        "doc_number": None,
        "title": "国家智能制造标准体系建设指南（2018年版）",
    },
    "guizhou-2015-35.pdf": {"file_name": UNIDENTIFIED, "issuer": None, "doc_number": None, "title": None},
}
#: file name -> (plan holder, issuer level, report label, report group), in the report's order.
EXPECTED = {
    PROVINCE: ("浙江", "provincial", "浙江", "provincial"),
    CITY: ("成都", "city", "四川·成都", "city"),
    STATE_COUNCIL: ("国务院", "national", "国务院", "central"),
    MINISTRY: ("工业和信息化部", "ministry", "工业和信息化部", "central"),
    JOINT: ("工业和信息化部国家标准化管理委员会", "joint", "工业和信息化部国家标准化管理委员会", "central"),
    UNIDENTIFIED: (UNIDENTIFIED, "unknown", "unidentified", "unknown"),
}
LOCAL = (PROVINCE, CITY)
CENTRAL = (STATE_COUNCIL, MINISTRY, JOINT)
#: Documents of the corpora whose issuer extraction does not read in full, and why.
METADATA_LIMITS = {
    "negatives/anhui-2023-wheat-scab.pdf": "a provincial department's telegram: no header, no 文号, 农业农村厅 not read as an issuer",
    "negatives/ndrc-2020-283-coal.pdf": "eight joint issuers, of which only the first (国家发展和改革委员会) is read",
}
_HREF = re.compile(r'href="#([^"]+)"')
_ID = re.compile(r'id="([^"]+)"')


@pytest.fixture(scope="module")
def path(tmp_path_factory) -> Path:
    synthetic = synthetic_corpus
    tables = synthetic.load_tables(SAMPLE_TABLES)
    docs = tables["documents"].copy()
    for sample, meta in NOT_PROVINCIAL.items():
        row = docs.index[docs["file_name"] == sample]
        assert len(row) == 1, sample
        docs.loc[row, ["province", "city", "level"]] = None
        for column, value in meta.items():
            docs.loc[row, column] = value
    tables["documents"] = docs
    path = synthetic.write_warehouse(tables, tmp_path_factory.mktemp("issuers") / "w.duckdb")
    # The sample tables keep no channel scores, which the review workbook ranks cells by.
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE matches SET channel_scores = MAP {'lexical': score}")
    return path


@pytest.fixture(scope="module")
def data(path):
    return rd.report_data(path)


@pytest.fixture(scope="module")
def page(data) -> str:
    return report_html(data)


def _query(path: Path, sql: str) -> list[tuple]:
    with warehouse.read_only(path) as con:
        return con.execute(sql).fetchall()


def _section(page: str, anchor: str) -> str:
    """The HTML of the element whose id is ``anchor``, to its balanced closing tag."""
    start = page.rindex("<", 0, page.index(f'id="{anchor}"'))
    tag = re.match(r"<(\w+)", page[start:]).group(1)
    depth = 0
    for m in re.finditer(rf"<(/?){tag}[\s>]", page[start:]):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            return page[start : start + m.end()]
    raise AssertionError(f"unbalanced <{tag}> at {anchor}")


# ---- views -----------------------------------------------------------------------------------


def test_views_give_every_document_a_plan_holder_and_an_issuer_level(path):
    documents = _query(path, "SELECT file_name, jurisdiction, issuer_level FROM current_documents")
    assert {f: (j, lvl) for f, j, lvl in documents} == {f: e[:2] for f, e in EXPECTED.items()}
    holders = _query(path, "SELECT jurisdiction, issuer_level, n_documents FROM province_summary")
    assert sorted(holders) == sorted((j, lvl, 1) for j, lvl, *_ in EXPECTED.values())
    for view in ("coverage_by_document", "coverage_by_province", "coverage_by_section", "beyond_national_plan",
                 "department_summary", "province_targets"):  # fmt: skip
        levels = dict(_query(path, f"SELECT DISTINCT jurisdiction, issuer_level FROM {view}"))
        assert levels.items() <= {j: lvl for j, lvl, *_ in EXPECTED.values()}.items(), view
        assert "national" in levels.values() and "provincial" in levels.values(), view


def test_measure_summary_counts_the_local_plan_holders_only(path):
    rows = _query(path, "SELECT n_jurisdictions, implemented_by, missing_in FROM measure_summary")
    assert len(rows) == MEASURES
    assert {n for n, _, _ in rows} == {len(LOCAL)}
    names = {name for _, *lists in rows for text in lists if text for name in text.split(", ")}
    assert names == {"浙江", "成都"}


@pytest.mark.parametrize(
    ("level", "province", "city", "issuer", "title", "doc_number", "expected"),
    [
        ("province", "浙江", None, "浙江省人民政府", None, "浙政发〔2016〕2号", "provincial"),
        ("city", "四川", "成都", "成都市人民政府", None, None, "city"),
        ("city", None, "乌兰察布", "乌兰察布市人民政府", None, "乌政发〔2019〕21号", "city"),
        ("county", None, None, "德清县人民政府", None, None, "county"),
        (None, None, None, "国务院办公厅", None, "国办发〔2020〕45号", "national"),
        (None, None, None, None, "国务院关于积极推进“互联网+”行动的指导意见", None, "national"),
        (None, None, None, None, None, "国发〔2016〕28号", "national"),
        (None, None, None, "最高人民法院", None, "法发〔2017〕12号", "national"),
        (None, None, None, "工业和信息化部", None, "工信部科〔2017〕315号", "ministry"),
        (None, None, None, "工业和信息化部办公厅", None, None, "ministry"),
        (None, None, None, "国家发展和改革委员会", None, None, "ministry"),
        (None, None, None, "国家林业局", None, "林信发〔2013〕131号", "ministry"),
        (None, None, None, "国务院国有资产监督管理委员会", None, None, "national"),
        (None, None, None, None, None, "工信部科〔2017〕315号", "ministry"),
        (None, None, None, "工业和信息化部国家标准化管理委员会", None, None, "joint"),
        (None, None, None, "工业和信息化部", None, "工信部联科〔2018〕154号", "joint"),
        (None, None, None, "中共中央办公厅国务院办公厅", None, None, "joint"),
        (None, None, None, "国家发展改革委 工业和信息化部", None, None, "joint"),
        (None, None, None, "教育部等六部门", None, None, "joint"),
        (None, None, None, "锡林郭勒盟行政公署", None, None, "unknown"),
        (None, None, None, None, None, None, "unknown"),
    ],
)
def test_issuer_level_rules(level, province, city, issuer, title, doc_number, expected):
    with duckdb.connect() as con:
        warehouse.apply_schema(con)
        (found,) = con.execute(
            "SELECT issuer_level(?, ?, ?, ?, ?, ?)", [level, province, city, issuer, title, doc_number]
        ).fetchone()
    assert found == expected


@pytest.mark.slow
def test_issuer_levels_of_the_corpus_documents_agree_with_the_manifest():
    with RELEVANCE.open(encoding="utf-8") as handle:
        manifest = {r["document"]: r["issuer_level"] for r in csv.DictReader(handle, delimiter="\t")}
    negatives = {name: level for name, level in manifest.items() if name.startswith("negatives/")}
    assert {"national", "ministry", "joint", "provincial", "city"} <= set(negatives.values())
    found = {}
    with duckdb.connect() as con:
        warehouse.apply_schema(con)
        for name in negatives:
            pages = extract.pages(ROOT / "corpora" / name, use_ocr=False)
            m = metadata(full_text(pages), pages)
            (found[name],) = con.execute(
                "SELECT issuer_level(?, ?, ?, ?, ?, ?)",
                [m.level, m.province, m.city, m.issuer, m.title, m.doc_number],
            ).fetchone()
    wrong = {name: (negatives[name], found[name]) for name in negatives if found[name] != negatives[name]}
    assert set(wrong) <= set(METADATA_LIMITS), wrong
    assert {found[n] for n in negatives if n not in wrong} >= {
        "national",
        "ministry",
        "joint",
        "provincial",
        "city",
    }


# ---- report ----------------------------------------------------------------------------------


def test_report_orders_documents_by_group_and_labels_them_by_issuer(data):
    docs = data.documents
    assert list(docs["file_name"]) == list(EXPECTED)
    assert list(docs["label"]) == [e[2] for e in EXPECTED.values()]
    assert list(docs["group"]) == [e[3] for e in EXPECTED.values()]
    assert list(docs["issuer_level"]) == [e[1] for e in EXPECTED.values()]
    assert list(docs[docs["local"]]["file_name"]) == list(LOCAL)
    for row in docs.itertuples():
        assert row.covered + row.partial + row.absent == MEASURES


def test_committee_summary_ranks_the_local_plans_and_lists_the_others_apart(data, path):
    text = committee_summary_markdown(path)
    local, _, rest = text.partition("**National and ministry documents 国家与部委文件**")
    central, _, unidentified = rest.partition("**Issuer not identified 发文机关未识别**")
    assert "6 documents (1 provincial, 1 city, 3 national or ministry, 1 with no issuer identified)" in local
    docs = data.documents.set_index("file_name")
    median = docs.loc[list(LOCAL), "covered_pct"].median()
    assert f"median coverage {median:.1f}% of the {MEASURES} national measures (local plans)" in local
    assert "| 浙江 " in local and "| 四川·成都 " in local
    for name in CENTRAL:
        assert f"| {docs.at[name, 'label']} " in central.split("**Least implemented")[0]
    assert (
        "| 国家级 national " in central and "| 部委 ministry " in central and "| 联合发文 joint " in central
    )
    assert "| unidentified " in unidentified and "| 国务院 " not in local
    assert re.search(r"\(\d/2 local plans\)", text)


def test_report_shows_national_and_ministry_documents_apart(data, page):
    assert sorted(set(_HREF.findall(page)) - set(_ID.findall(page))) == []
    assert "None" not in re.sub(r"<[^>]+>", " ", page)  # no missing 文号 or issuer printed as None
    heat = _section(page, "heat-sections")
    order = re.findall(r'<th class="doc"[^>]*>(?:<a [^>]*>)?([^<]+)<', heat)
    labels = list(data.documents["label"])
    assert order[1:] == [labels[0], labels[1], "平均 Mean", *labels[2:]]  # first: the column header
    dividers = re.findall(r'<tr class="divider"><th colspan="\d+">([^<]+)</th>', heat)
    assert [d.split(" —")[0] for d in dividers] == [
        "市级 City plans",
        "国家与部委文件 National and ministry documents",
        "发文机关未识别 Issuer not identified",
    ]
    assert len(re.findall(r'<tr class="divider">', _section(page, "heat-measures"))) == 3
    glance = _section(page, "glance")
    local = data.documents[data.documents["local"]]
    low, high = local.loc[local["covered_pct"].idxmin()], local.loc[local["covered_pct"].idxmax()]
    assert f'from <a href="#{low["anchor"]}">{low["label"]}</a>' in glance
    assert f'to <a href="#{high["anchor"]}">{high["label"]}</a>' in glance
    assert "over the 2 provincial, city and county plans" in glance
    central = _section(page, "documents-central") + page.split('id="documents-central"')[1].split("</ul>")[0]
    for name in CENTRAL:
        assert f'href="#{rd.doc_anchor(data.documents.set_index("file_name").at[name, "doc_id"])}"' in central
    kinds = {
        "national": "国家级 national document",
        "ministry": "部委 ministry document",
        "joint": "联合发文 joint document",
    }
    for row in data.documents.itertuples():
        doc_page = _section(page, row.anchor)
        assert html.escape(rd.ISSUER_LEVELS[row.issuer_level][0], quote=False) in doc_page
        if row.issuer_level in kinds:
            assert kinds[row.issuer_level] in doc_page
    block = _section(page, rd.measure_anchor("II.8.1"))
    assert re.search(
        r"implemented by <b>\d</b>/2 provincial, city and county plans; <b>\d</b>/3 国家与部委文件", block
    )


def test_report_of_a_warehouse_written_before_issuer_levels_asks_for_a_run(tmp_path, path):
    old = tmp_path / "old.duckdb"
    shutil.copy(path, old)
    with duckdb.connect(str(old)) as con:
        con.execute("DROP MACRO issuer_level")
    with pytest.raises(
        WarehouseError, match=r"old\.duckdb: its researcher views are older .*run `compare run`"
    ):
        rd.report_data(old)
    with duckdb.connect(str(old)) as con:  # what a run does to the warehouse it publishes
        warehouse.apply_schema(con)
    documents = rd.report_data(old).documents
    groups = dict(zip(documents["file_name"], documents["group"], strict=True))
    assert groups[PROVINCE] == "provincial" and groups[CITY] == "city"


@pytest.mark.slow
def test_pdf_report_prints_every_group(tmp_path, path):
    try:
        chromium_binary()
    except CompareError as exc:
        pytest.skip(f"headless Chromium is needed (apt-get install chromium fonts-wqy-zenhei): {exc}")
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext is needed (apt-get install poppler-utils)")
    files = write_report(path, tmp_path)
    assert files.pdf is not None and files.documents == len(EXPECTED)
    text = subprocess.run(
        ["pdftotext", str(files.pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = re.sub(r"\s+", "", text)
    for needle in ("国家与部委文件Nationalandministrydocuments", "发文机关未识别Issuernotidentified", "市级Cityplans",
                   "国务院关于深化制造业与互联网融合发展的指导意见", "联合发文jointdocument"):  # fmt: skip
        assert needle in flat, needle


# ---- review workbook and commands ------------------------------------------------------------


def test_review_workbook_names_each_sheet_by_its_issuer(tmp_path, path):
    book_path, documents = export_workbook(path, tmp_path / "review.xlsx")
    labels = {d.file_name: d.label for d in documents}
    assert labels == {name: e[2] for name, e in EXPECTED.items()}
    sheets = load_workbook(book_path, read_only=True).sheetnames
    assert "国务院 国发〔2016〕28号" in sheets and "工业和信息化部 工信部科〔2017〕315号" in sheets
    assert "工业和信息化部国家标准化管理委员会" in sheets and "unidentified" in sheets


def test_status_query_and_export_commands(tmp_path, path):
    runner = CliRunner()
    status = runner.invoke(app, ["status", "--warehouse", str(path)])
    assert status.exit_code == 0, status.output
    sql = "SELECT jurisdiction, issuer_level, covered_pct FROM province_summary ORDER BY issuer_level, jurisdiction"
    query = runner.invoke(app, ["query", "--warehouse", str(path), "--format", "csv", sql])
    assert query.exit_code == 0, query.output
    rows = list(csv.reader(query.output.splitlines()))
    assert rows[0] == ["jurisdiction", "issuer_level", "covered_pct"]
    assert {(r[0], r[1]) for r in rows[1:]} == {e[:2] for e in EXPECTED.values()}
    out = tmp_path / "exports"
    export = runner.invoke(
        app,
        [
            "export",
            "--warehouse",
            str(path),
            "--out",
            str(out),
            "--format",
            "csv",
            "--tables",
            "current_documents",
        ],
    )
    assert export.exit_code == 0, export.output
    exported = pd.read_csv(out / "current_documents.csv")
    assert dict(zip(exported["file_name"], exported["issuer_level"], strict=True)) == {
        name: e[1] for name, e in EXPECTED.items()
    }

"""The committee report: what it reads, what it states, and that every claim links to its evidence.

The warehouse is the six sample plans as published by ``compare run`` and ``compare evaluate``
(``tests/data/report/sample-warehouse``); the 31-province corpus is made from it by
``scripts/synthetic_corpus.py``. Rendering in Chromium is in ``test_report_render.py``.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from types import ModuleType

import duckdb
import pandas as pd
import pytest
import typer
from scripts import synthetic_corpus
from typer.testing import CliRunner

from compare.errors import WarehouseError
from compare.report import data as rd
from compare.report.objectives import NATIONAL_OBJECTIVES, national_objective
from compare.report.render import committee_summary_markdown, report_html, write_report
from tests.conftest import DATA

SAMPLE_TABLES = DATA / "report" / "sample-warehouse"
MEASURES = 65
SAMPLE_DOCUMENTS = 6
SYNTHETIC_DOCUMENTS = 31 + 10
_HREF = re.compile(r'href="#([^"]+)"')
_ID = re.compile(r'id="([^"]+)"')


@pytest.fixture(scope="module")
def synthetic() -> ModuleType:
    return synthetic_corpus


@pytest.fixture(scope="module")
def sample_warehouse(tmp_path_factory, synthetic) -> Path:
    return synthetic.write_warehouse(
        synthetic.load_tables(SAMPLE_TABLES), tmp_path_factory.mktemp("w") / "sample.duckdb"
    )


@pytest.fixture(scope="module")
def large_warehouse(tmp_path_factory, synthetic) -> Path:
    tables = synthetic.synthetic_tables(synthetic.load_tables(SAMPLE_TABLES))
    return synthetic.write_warehouse(tables, tmp_path_factory.mktemp("w") / "large.duckdb")


@pytest.fixture(scope="module")
def data(sample_warehouse):
    return rd.report_data(sample_warehouse)


@pytest.fixture(scope="module")
def page(data) -> str:
    return report_html(data)


def _section(page: str, anchor: str) -> str:
    """The HTML of the element whose id is ``anchor``, from its opening tag to its balanced closing tag."""
    start = page.rindex("<", 0, page.index(f'id="{anchor}"'))
    tag = re.match(r"<(\w+)", page[start:]).group(1)
    depth = 0
    for m in re.finditer(rf"<(/?){tag}[\s>]", page[start:]):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            return page[start : start + m.end()]
    raise AssertionError(f"unbalanced <{tag}> at {anchor}")


def test_documents_are_in_administrative_order_with_cities_last(data):
    labels = list(data.documents["label"])
    assert labels == ["浙江", "山东", "湖南", "广东", "贵州", "四川·成都"]
    for row in data.documents.itertuples():
        assert row.covered + row.partial + row.absent == MEASURES


def test_additions_are_measure_clauses_that_implement_no_national_measure(data, sample_warehouse):
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        expected = con.execute(
            "SELECT count(*) FROM clause_decisions d JOIN clauses k USING (clause_id) "
            "WHERE d.decision = 'none' AND k.kind = 'measure'"
        ).fetchall()[0][0]
    assert len(data.additions) == expected > 0
    assert data.additions["closest_measure_id"].notna().all()


def test_every_link_in_the_report_has_a_target(page):
    targets = set(_ID.findall(page))
    links = set(_HREF.findall(page))
    assert len(links) > 500
    assert sorted(links - targets) == []


def test_every_covered_or_partial_cell_links_to_its_quoted_clause_page_and_score(data, page):
    cells = data.coverage[data.coverage["status"].isin(["covered", "partial"])]
    assert len(cells) == 326
    for cell in cells.sample(40, random_state=1).itertuples():
        clause = data.clauses.loc[cell.evidence_clause_id]
        evidence = _section(page, rd.clause_anchor(cell.evidence_clause_id))
        assert html.escape(clause["text"], quote=False) in evidence
        assert f"p.{clause['page']}" in evidence
        assert f'href="#{rd.measure_anchor(cell.measure_id)}">{cell.measure_id}</a>' in evidence
        assert f"score {cell.score:.1f}" in evidence
        assert f'href="#{rd.clause_anchor(cell.evidence_clause_id)}"' in page


def test_heatmaps_have_a_cell_per_document_and_section_and_measure(data, page):
    measures = _section(page, "heat-measures")
    assert measures.count('<td class="cell"') == SAMPLE_DOCUMENTS * MEASURES
    for status, symbol in (("covered", "●"), ("partial", "◐"), ("absent", "○")):
        n = int((data.coverage["status"] == status).sum())
        assert len(re.findall(rf'<td class="cell"[^>]*><a href="#[^"]+">{symbol}</a>', measures)) == n
    sections = _section(page, "heat-sections")
    assert sections.count('<td class="cell"') == SAMPLE_DOCUMENTS * 18 + 18  # and the mean row


def test_labels_are_in_chinese_and_english(data, page):
    for status in ("覆盖 covered", "部分 partial", "缺失 absent"):
        assert status in page
    for m in data.measures.drop_duplicates("section_id").itertuples():
        assert html.escape(m.section_title_zh, quote=False) in page
        assert html.escape(m.section_title_en, quote=False) in page


def test_the_report_is_self_contained(page):
    assert "<script" not in page
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)
    assert "<link" not in page
    assert "@import" not in page and "url(" not in page


def test_document_page_lists_gaps_additions_targets_and_departments(data, page):
    doc = data.documents[data.documents["label"] == "山东"].iloc[0]
    section = _section(page, doc["anchor"])
    absent = data.coverage[(data.coverage["doc_id"] == doc["doc_id"]) & (data.coverage["status"] == "absent")]
    for measure_id in absent["measure_id"]:
        assert f'href="#{rd.measure_anchor(measure_id)}">{measure_id}</a>' in section
    for clause_id in data.additions.loc[data.additions["doc_id"] == doc["doc_id"], "clause_id"]:
        assert f'href="#{rd.clause_anchor(clause_id)}"' in section
    targets = data.targets[data.targets["doc_id"] == doc["doc_id"]]
    assert len(targets) > 0
    for indicator in targets["indicator"]:
        assert html.escape(indicator, quote=False) in section
    assert "sets no quantitative target" in section
    assert "牵头 lead" in section
    lead = data.departments[
        (data.departments["doc_id"] == doc["doc_id"]) & (data.departments["role"] == "lead")
    ]
    assert html.escape(lead["name"].iloc[0], quote=False) in section


def test_measure_block_lists_implementing_documents_by_score(data, page):
    block = _section(page, rd.measure_anchor("II.8.1"))
    chips = re.findall(r'class="chip"[^>]*>[●◐] ([^<]+) <span class="s">([\d.]+)', block)
    assert len(chips) == SAMPLE_DOCUMENTS
    scores = [float(s) for _, s in chips]
    assert scores == sorted(scores, reverse=True)


def test_method_states_thresholds_weights_evaluation_and_provenance(data, page):
    method = _section(page, "method")
    run = data.latest_run
    for value in (run["run_id"], run["code_version"], run["corpus_hash"], run["catalogue_fingerprint"]):
        assert str(value) in method
    for value in data.calibration["thresholds"].values():
        assert f"{value:.3f}" in method
    for channel in data.calibration["weights"]:
        assert f"<td>{channel}</td>" in method
    assert "0.943" in method and "leave-one-document-out" in method
    assert "small development set" in method
    assert "extract 2.9 s" in method


def test_evaluation_falls_back_to_the_calibration_figures(tmp_path, synthetic):
    tables = synthetic.load_tables(SAMPLE_TABLES)
    tables["evaluations"] = tables["evaluations"].iloc[0:0]
    tables["evaluation_measures"] = tables["evaluation_measures"].iloc[0:0]
    path = synthetic.write_warehouse(tables, tmp_path / "w.duckdb")
    evaluation = rd.report_data(path).evaluation
    assert evaluation is not None
    assert "calibration" in evaluation.source
    assert evaluation.figures["cell_f1"] == pytest.approx(0.943, abs=1e-3)
    assert evaluation.per_measure.empty


def test_failed_documents_are_listed_not_counted(tmp_path, synthetic):
    tables = synthetic.load_tables(SAMPLE_TABLES)
    failed = (
        tables["documents"]
        .iloc[[0]]
        .assign(
            doc_id="f" * 16, file_name="broken.pdf", status="not_pdf", message="broken.pdf: not a PDF file"
        )
    )
    tables["documents"] = pd.concat([tables["documents"], failed], ignore_index=True)
    path = synthetic.write_warehouse(tables, tmp_path / "w.duckdb")
    data = rd.report_data(path)
    assert len(data.documents) == SAMPLE_DOCUMENTS and list(data.failed["file_name"]) == ["broken.pdf"]
    assert "broken.pdf: not a PDF file" in _section(report_html(data), "method")


def test_documents_and_cells_are_those_of_the_researcher_views(tmp_path, synthetic):
    tables = synthetic.load_tables(SAMPLE_TABLES)
    documents = tables["documents"].copy()
    documents.loc[0, "status"] = "withdrawn"
    documents.loc[1, ["relevance", "relevance_reasons"]] = ["off_topic", "no plan parts"]
    tables["documents"] = documents
    path = synthetic.write_warehouse(tables, tmp_path / "w.duckdb")
    data = rd.report_data(path)
    with duckdb.connect(str(path), read_only=True) as con:
        shown = {
            r[0]
            for r in con.execute(
                "SELECT doc_id FROM current_documents WHERE status = 'ok' AND in_matrix"
            ).fetchall()
        }
        cells = con.execute(
            "SELECT count(*) FROM coverage_by_document JOIN current_documents d USING (doc_id) WHERE d.status = 'ok'"
        ).fetchone()[0]
    assert set(data.documents["doc_id"]) == shown and len(shown) == SAMPLE_DOCUMENTS - 2
    assert len(data.coverage) == cells == len(shown) * MEASURES
    # the off-topic document is listed with its verdict; the withdrawn one is not in the report at all
    off_topic = documents.loc[1, "file_name"]
    assert list(data.failed["file_name"]) == [off_topic] and list(data.failed["status"]) == ["off_topic"]
    page = report_html(data)
    assert rd.doc_anchor(documents.loc[0, "doc_id"]) not in page
    left_out = page[page.index('id="failed"') :]
    left_out = left_out[: left_out.index("</table>")]
    assert documents.loc[0, "file_name"] not in left_out and off_topic in left_out


def test_missing_or_empty_warehouse_names_the_file(tmp_path):
    with pytest.raises(WarehouseError, match=r"nowhere\.duckdb: no warehouse yet"):
        rd.report_data(tmp_path / "nowhere.duckdb")
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(WarehouseError, match=r"empty\.duckdb: not a compare warehouse"):
        rd.report_data(empty)


def test_committee_summary_markdown(data, sample_warehouse):
    text = committee_summary_markdown(sample_warehouse)
    assert text.startswith(f"# Coverage of 国发〔2015〕40号 — run {data.latest_run['run_id']}")
    for row in data.documents.itertuples():
        assert f"| {row.label}" in text and row.doc_number in text
    assert "III.2.4" in text  # implemented by no sample plan
    assert "F1 0.943" in text
    assert len(text.splitlines()) < 40


def test_targets_are_set_beside_the_national_objective_of_their_area():
    keys = {o.key for o in NATIONAL_OBJECTIVES}
    assert national_objective("固定宽带家庭普及率", 2018).key == "infrastructure"
    assert national_objective("网络零售额", 2018).key == "economy"
    assert national_objective("行政审批事项网上办理率", None).key == "services"
    assert national_objective("某项指标", 2018).key == "overall-2018"
    assert national_objective("某项指标", 2025).key == "vision-2025"
    assert keys == {"overall-2018", "economy", "services", "infrastructure", "environment", "vision-2025"}


@pytest.mark.slow
def test_synthetic_corpus_has_every_province_and_ten_cities(large_warehouse):
    data = rd.report_data(large_warehouse)
    docs = data.documents
    assert len(docs) == SYNTHETIC_DOCUMENTS
    provinces = docs[docs["level"] == "province"]
    assert list(provinces["province"]) == list(rd.PROVINCE_ORDER)
    assert docs["label"].is_unique and docs["doc_id"].is_unique
    assert len(data.coverage) == SYNTHETIC_DOCUMENTS * MEASURES
    evidence = data.coverage["evidence_clause_id"].dropna()
    assert evidence.isin(data.clauses.index).all()
    assert data.coverage.groupby("doc_id")["status"].apply(lambda s: (s == "covered").sum()).nunique() > 10


def test_report_command_writes_the_html(tmp_path, sample_warehouse):
    from compare.cli.report import report

    app = typer.Typer()
    app.command()(report)
    app.command("other")(lambda: None)
    assert "Example: compare report" in CliRunner().invoke(app, ["report", "--help"]).output
    result = CliRunner().invoke(
        app, ["report", "--warehouse", str(sample_warehouse), "--out", str(tmp_path), "--no-pdf"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").stat().st_size > 100_000
    assert not (tmp_path / "report.pdf").exists()
    bad = CliRunner().invoke(app, ["report", "--warehouse", str(tmp_path / "none.duckdb"), "--no-pdf"])
    assert bad.exit_code == 2 and "none.duckdb: no warehouse yet" in bad.output


def test_write_report_without_pdf(tmp_path, sample_warehouse):
    files = write_report(sample_warehouse, tmp_path / "out", pdf=False)
    assert files.pdf is None and files.documents == SAMPLE_DOCUMENTS
    assert files.html.read_text(encoding="utf-8").startswith("<!doctype html>")

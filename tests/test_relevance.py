"""What a document is: the relevance verdict, its fitting, and what it keeps out of the views."""

from __future__ import annotations

import shutil

import pytest

from compare.match.relevance import (
    NATIONAL_PLAN_CITATION,
    RELATED_MEASURES_GRID,
    RELATED_SHARE_GRID,
    Labelled,
    Relevance,
    RelevanceCutoffs,
    Signals,
    Verdict,
    fit_relevance,
    gate_figures,
    published_cells,
    verdict,
)
from compare.records import CoverageCell, CoverageStatus
from compare.store import warehouse
from tests.conftest import CORPUS, ROOT

RUN = "20260101T000000-bbbbbb"


def _signals(cites=False, title=False, parts=0, measures=0, share=0.0, items=20) -> Signals:
    return Signals(cites, title, parts, measures, share, items)


@pytest.mark.parametrize(
    "text",
    [
        "根据《国务院关于积极推进“互联网+”行动的指导意见》（国发〔2015〕40号）",
        "国发[2015]40号",
        "国发（2015）40 号",
        "关于积极推进互联网＋行动的指导意见",
    ],
)
def test_the_national_plan_is_recognized_when_cited(text):
    assert NATIONAL_PLAN_CITATION.search(text)


def test_a_cited_plan_number_of_another_year_is_not_the_national_plan():
    assert not NATIONAL_PLAN_CITATION.search("国发〔2016〕40号 国发〔2015〕41号")


def test_verdicts_and_their_reasons():
    cutoffs = RelevanceCutoffs(plan_parts=6, related_measures=2, related_share=0.1)
    plan = verdict(_signals(cites=True, parts=14, measures=40, share=0.8), cutoffs)
    assert plan.relevance == Relevance.PLAN
    assert "cites 国发〔2015〕40号" in plan.reason_text and "14 of 18 parts" in plan.reason_text
    # says it is a plan, but its matches stay in a few parts: a related policy (互联网+政务服务)
    narrow = verdict(_signals(title=True, parts=2, measures=5, share=0.5), cutoffs)
    assert narrow.relevance == Relevance.RELATED and "fewer than a plan's 6" in narrow.reason_text
    # matches everywhere, but never says it carries out the national plan: not a plan
    unsaid = verdict(_signals(parts=12, measures=20, share=0.7), cutoffs)
    assert unsaid.relevance == Relevance.RELATED and "does not say" in unsaid.reason_text
    off = verdict(_signals(parts=1, measures=1, share=0.05), cutoffs)
    assert off.relevance == Relevance.OFF_TOPIC and "covers 1 measures" in off.reason_text


def test_a_related_policy_does_not_carry_the_plans_own_implementation_measures():
    cells = [
        CoverageCell("d", "II.6.1", CoverageStatus.COVERED, 20.0, "d:1"),
        CoverageCell("d", "III.7.1", CoverageStatus.COVERED, 19.0, "d:2"),
    ]
    related = Verdict(Relevance.RELATED, ("x",), _signals())
    kept = published_cells(cells, related)
    assert [(c.measure_id, c.status, c.evidence_clause_id) for c in kept] == [
        ("II.6.1", CoverageStatus.COVERED, "d:1"),
        ("III.7.1", CoverageStatus.ABSENT, None),
    ]
    plan = Verdict(Relevance.PLAN, ("x",), _signals())
    assert published_cells(cells, plan) == cells
    assert published_cells(cells, None) == cells


def test_fitting_puts_the_cutoffs_between_plans_and_negatives():
    labelled = [
        Labelled(_signals(cites=True, title=True, parts=p, measures=3 * p, share=0.9), Relevance.PLAN)
        for p in (10, 12, 15, 18)
    ] + [
        Labelled(_signals(title=True, parts=3, measures=4, share=0.4), Relevance.RELATED, 1),
        Labelled(_signals(parts=5, measures=9, share=0.6), Relevance.RELATED, 2),
        Labelled(_signals(parts=1, measures=1, share=0.03), Relevance.OFF_TOPIC, 1),
        Labelled(_signals(parts=2, measures=2, share=0.01), Relevance.OFF_TOPIC, 2),
    ]
    cutoffs = fit_relevance(labelled)
    assert [verdict(x.signals, cutoffs).relevance for x in labelled] == [x.truth for x in labelled]
    assert 4 <= cutoffs.plan_parts <= 10
    # among cut-offs that judge all alike, the middle of each run: not at the edge of the examples
    assert cutoffs.related_measures < max(RELATED_MEASURES_GRID)
    assert cutoffs.related_share < max(RELATED_SHARE_GRID)


def test_false_claims_of_a_negative_can_outweigh_calling_it_related():
    # an off-topic document whose matches are many false claims: better judged off topic even
    # at the price of a related one that claims little
    labelled = [
        Labelled(_signals(cites=True, parts=15, measures=50, share=0.9), Relevance.PLAN),
        Labelled(_signals(parts=3, measures=8, share=0.8), Relevance.OFF_TOPIC, 8),
        Labelled(_signals(parts=2, measures=3, share=0.7), Relevance.RELATED, 0),
    ]
    cutoffs = fit_relevance(labelled)
    assert verdict(labelled[1].signals, cutoffs).relevance == Relevance.OFF_TOPIC


def test_gate_figures():
    truth = [Relevance.PLAN, Relevance.PLAN, Relevance.RELATED, Relevance.OFF_TOPIC]
    guess = [Relevance.PLAN, Relevance.OFF_TOPIC, Relevance.PLAN, Relevance.OFF_TOPIC]
    figures = gate_figures(truth, guess)
    assert figures["gate_plan_precision"] == 0.5 and figures["gate_plan_recall"] == 0.5
    assert figures["gate_negatives_kept_out"] == 0.5 and figures["gate_exact"] == 0.5


@pytest.fixture
def judged(tmp_path, catalogue):
    """A warehouse with a plan, a related policy and two off-topic documents, one accepted."""
    path = tmp_path / "w.duckdb"
    ids = catalogue.ids
    with warehouse.snapshot(path) as con:
        warehouse.write_catalogue(con, catalogue)
        con.execute("INSERT INTO runs (run_id, status, models) VALUES (?, 'ok', 'e5-small,use')", [RUN])
        rows = [
            ("plan", "浙江", "plan"),
            ("rel", "浙江", "related"),
            ("off", "浙江", "off_topic"),
            ("acc", "湖南", "off_topic"),
        ]
        for doc_id, province, relevance in rows:
            con.execute(
                "INSERT INTO documents (doc_id, file_name, province, level, status, run_id, relevance, "
                "relevance_reasons) VALUES (?, ?, ?, 'province', 'ok', ?, ?, 'because')",
                [doc_id, f"{doc_id}.pdf", province, RUN, relevance],
            )
            con.execute(
                "INSERT INTO clauses (clause_id, doc_id, seq, kind, text, page) VALUES (?, ?, 1, 'measure', 't', 1)",
                [f"{doc_id}:1", doc_id],
            )
            for measure_id in ids:
                status = "covered" if measure_id == ids[0] or doc_id != "plan" else "absent"
                con.execute(
                    "INSERT INTO coverage VALUES (?, ?, ?, 1.0, ?, ?)",
                    [doc_id, measure_id, status, f"{doc_id}:1" if status == "covered" else None, RUN],
                )
        assert warehouse.accept_documents(con, ["acc.pdf", "acc.pdf"], RUN) == ["acc.pdf"]
        assert warehouse.accept_documents(con, ["acc.pdf"], RUN) == []
    return path


def test_off_topic_documents_leave_the_views_unless_accepted_and_related_ones_stay_apart(judged):
    with warehouse.read_only(judged) as con:
        listed = con.execute(
            "SELECT doc_id, relevance, accepted, in_matrix FROM current_documents ORDER BY doc_id"
        ).fetchall()
        assert listed == [
            ("acc", "off_topic", True, True),
            ("off", "off_topic", False, False),
            ("plan", "plan", False, True),
            ("rel", "related", False, True),
        ]
        in_matrix = con.execute("SELECT DISTINCT doc_id FROM coverage_by_document ORDER BY 1").fetchall()
        assert in_matrix == [("acc",), ("plan",), ("rel",)]
        # Zhejiang's coverage is its plan's alone: the related policy covers every measure
        covered = con.execute(
            "SELECT count(*) FROM coverage_by_province WHERE jurisdiction = '浙江' AND status = 'covered'"
        ).fetchone()[0]
        assert covered == 1


@pytest.mark.slow
def test_evaluate_reports_the_gate_and_the_claims_on_negatives(tmp_path, catalogue):
    from compare.match import evaluate as ev
    from compare.match.scorer import Scorer
    from compare.settings import Settings

    plans, negatives = tmp_path / "provincial", tmp_path / "negatives"
    for folder, stems in (
        (plans, ["hunan-2015-86", "zhejiang-2016-2", "ningbo-2016-29"]),
        (negatives, ["spc-2017-12-smart-courts", "henan-2020-digital-gov", "jiangxi-2021-education"]),
    ):
        folder.mkdir()
        source = CORPUS if folder is plans else ROOT / "corpora" / "negatives"
        for stem in stems:
            for suffix in (".pdf", ".labels.tsv"):
                shutil.copy(source / f"{stem}{suffix}", folder / f"{stem}{suffix}")
    shutil.copy(ROOT / "corpora" / "relevance.tsv", tmp_path / "relevance.tsv")
    settings = Settings(models=("hashing",), cache_dir=tmp_path / "cache")
    scorer = Scorer.from_settings(settings, catalogue)
    outcome = ev.evaluate([plans, negatives], None, scorer, catalogue)
    figures = outcome.metrics.relevance
    assert figures["gate_documents"] == 6 and figures["negatives"] == 3
    assert 0.0 <= figures["gate_plan_recall"] <= 1.0 and figures["fragment_evidence"] >= 0
    # the calibration written carries the cut-offs fitted on all six documents
    refit = ev.calibrate(
        [
            d.in_fold(frozenset({d.group}))
            for d in ev.labelled_documents([plans, negatives], None, scorer, catalogue)[0]
        ],
        list(outcome.calibration.weights),
        ("hashing",),
        catalogue.ids,
        source="all",
    )
    assert outcome.calibration.relevance == refit.relevance
    assert outcome.calibration.metrics["relevance"] == figures
    assert "gate plan precision" in ev.evaluation_markdown(outcome.metrics, catalogue, title="t")


def test_accepted_files_come_from_the_setting_and_the_flag():
    from compare.settings import Settings

    settings = Settings.from_env(environ={"COMPARE_ACCEPT": "a.pdf, b.pdf"})
    assert settings.accept == ("a.pdf", "b.pdf")
    assert settings.with_overrides(accept=[*settings.accept, "c.pdf"]).accept == ("a.pdf", "b.pdf", "c.pdf")
    assert Settings().accept == ()

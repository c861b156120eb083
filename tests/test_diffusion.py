"""Reuse between plans (compare.diffusion): verbatim and paraphrase links, direction, the
incremental index, the measures, the tables and the labels.

The fixtures are real items of the sample corpus (corpora/provincial/sources: hubei-2016-8 and
the Wuhan plan written from it), with vectors from the model-free hashing encoder.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compare.diffusion.index import (
    NATIONAL_DOC_ID,
    PARAPHRASE,
    VERBATIM,
    ReuseClause,
    ReuseDocument,
    ReuseIndex,
    ReuseLink,
    ReuseSettings,
    direction,
)
from compare.diffusion.labels import read_homogeneity_labels, read_reuse_labels, reuse_label_files
from compare.diffusion.measures import DocumentInfo, document_similarity, homogeneity, localization
from compare.diffusion.paraphrase import ParaphraseRule, rule_for
from compare.diffusion.stages import HashingEncoder
from compare.diffusion.text import containment, longest_run, passages, reuse_text, shingles
from compare.errors import LabelError, SettingsError
from compare.store.reuse_tables import (
    REUSE_TABLES,
    SCHEMA,
    clause_reuse_rows,
    document_localization_rows,
    document_similarity_rows,
    measure_homogeneity_rows,
    schema_columns,
)

CORPUS = Path(__file__).resolve().parents[1] / "corpora" / "provincial"
SOURCES = CORPUS / "sources"
ENCODER = HashingEncoder()


def _line(stem: str, prefix: str) -> str:
    found = [
        line
        for line in (SOURCES / f"{stem}.txt").read_text(encoding="utf-8").splitlines()
        if line.startswith(prefix)
    ]
    assert len(found) == 1, (stem, prefix)
    return found[0]


#: (Hubei item, Wuhan item): the first three copied, the last paraphrased (wuhan-2016-18.reuse.tsv).
PAIRS = [
    ("（1）建设智能工厂和数字化车间", "1.建设智能工厂和数字化车间"),
    ("3.推进制造企业服务化转型", "3.推进制造企业服务化转型"),
    ("1.培育新型农业经营体系", "1.培育新型农业经营体系"),
    ("1.建设物流公共信息平台", "1.建设物流公共信息平台"),
    ("2.发展网络化协同和个性化定制", "2.推进协同制造和个性化定制"),
]
#: A Wuhan item of its own on a measure Hubei also covers (not reuse).
OWN = "2.建设都市农业物联网示范园"
HUBEI_OWN = "2.推进农业生产精细化"


def document(doc_id: str, texts: list[str], date: str | None, province: str | None = "湖北") -> ReuseDocument:
    clauses = tuple(ReuseClause(f"{doc_id}:{i:04d}", doc_id, t) for i, t in enumerate(texts))
    return ReuseDocument(
        doc_id, f"{doc_id}.pdf", clauses, ENCODER.encode(texts, role="query"), province, "province", date
    )


@pytest.fixture
def hubei() -> ReuseDocument:
    return document(
        "hubei",
        [_line("hubei-2016-8", a) for a, _ in PAIRS] + [_line("hubei-2016-8", HUBEI_OWN)],
        "2016-02-26",
    )


@pytest.fixture
def wuhan() -> ReuseDocument:
    return document(
        "wuhan", [_line("wuhan-2016-18", b) for _, b in PAIRS] + [_line("wuhan-2016-18", OWN)], "2016-05-10"
    )


def _index(rule: ParaphraseRule | None = None) -> ReuseIndex:
    return ReuseIndex(ENCODER.dim, paraphrase=rule if rule is not None else rule_for(ENCODER.model_id))


def test_reuse_text_drops_marker_departments_and_punctuation():
    text = "（1）开放企业资源。推动省内企业开放带宽、云主机。（省经信委牵头，省科技厅配合）"
    assert reuse_text(text) == "开放企业资源推动省内企业开放带宽云主机"
    assert passages(text, min_chars=7) == ["推动省内企业开放带宽云主机"]
    assert reuse_text("1.發展網際網路。") == "发展互联网"


def test_containment_and_longest_run():
    a, b = "推进城镇光纤到户和农村宽带进村", "实施宽带工程推进城镇光纤到户"
    assert longest_run(a, b) == len("推进城镇光纤到户")
    assert 0 < containment(shingles(a), shingles(b)) < 1
    assert containment(shingles(a), shingles(a + b)) == 1.0


def test_copied_items_are_verbatim_and_point_from_the_province_to_the_city(hubei, wuhan):
    index = _index()
    assert index.add(hubei) == []
    links = index.add(wuhan)
    verbatim = {(link.source_clause_id, link.target_clause_id) for link in links if link.kind == VERBATIM}
    assert verbatim == {(f"hubei:{i:04d}", f"wuhan:{i:04d}") for i in range(4)}
    assert all(link.directed and link.source_doc_id == "hubei" for link in links)
    # the city's own item on the same measure is not reuse
    assert not any(link.target_clause_id == "wuhan:0005" for link in links)


def test_a_paraphrase_is_found_in_a_document_pair_joined_by_copying(hubei, wuhan):
    index = _index()
    index.add_all([hubei, wuhan])
    paraphrases = [(k.source_clause_id, k.target_clause_id) for k in index.links if k.kind == PARAPHRASE]
    assert paraphrases == [("hubei:0004", "wuhan:0004")]


def test_no_paraphrase_without_a_rule_nor_without_anchors(hubei, wuhan):
    index = ReuseIndex(ENCODER.dim, paraphrase=None)
    index.add_all([hubei, wuhan])
    assert {link.kind for link in index.links} == {VERBATIM}
    strict = ReuseIndex(ENCODER.dim, ReuseSettings(min_anchors=10), rule_for(ENCODER.model_id))
    strict.add_all([hubei, wuhan])
    assert {link.kind for link in strict.links} == {VERBATIM}


def test_a_document_already_indexed_is_not_compared_again(hubei, wuhan):
    index = _index()
    index.add_all([hubei, wuhan])
    before = list(index.links)
    assert index.add(wuhan) == [] and index.add(hubei) == []
    assert index.links == before and len(index) == 2


def test_saved_index_adds_a_new_document_as_the_whole_build_would(tmp_path, hubei, wuhan):
    whole = _index()
    whole.add_all([hubei, wuhan])
    first = _index()
    first.add(hubei)
    first.save(tmp_path / "index")
    reopened = ReuseIndex.open(tmp_path / "index")
    assert hubei.doc_id in reopened and reopened.n_clauses == len(hubei.clauses)
    reopened.add(wuhan)
    assert reopened.links == whole.links
    reopened.save(tmp_path / "index")
    assert ReuseIndex.open(tmp_path / "index").links == whole.links


def test_opening_a_folder_that_is_no_index_says_what_is_missing(tmp_path):
    with pytest.raises(SettingsError, match=r"not a reuse index \(missing lsh.pkl"):
        ReuseIndex.open(tmp_path)


def test_vectors_of_another_dimension_are_refused(hubei):
    index = ReuseIndex(ENCODER.dim + 1)
    with pytest.raises(SettingsError, match=r"hubei\.pdf: clause vectors of dimension 256"):
        index.add(hubei)


def test_bad_settings_name_the_setting():
    with pytest.raises(SettingsError, match="max_verify must be at least 1"):
        ReuseSettings(max_verify=0)
    with pytest.raises(SettingsError, match=r"verbatim_min_overlap must be in \(0, 1\]"):
        ReuseSettings(verbatim_min_overlap=1.5)


def test_direction_ties_and_missing_dates_are_undirected():
    assert direction("2015-10-11", "2016-05-26") == -1
    assert direction("2016-05-26", "2015-10-11") == 1
    assert direction("2016-01-01", "2016-01-01") == 0
    assert direction(None, "2016-01-01") == 0


_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF)
#: Simplified characters of the plans. Arbitrary code points are no clause text: OpenCC converts
#: some by the phrase they fall in (么 reads 幺 after 一 in one context and not in another), so the
#: same string normalizes differently in two documents.
_PLAN_CHARS = st.sampled_from(
    sorted(set("推进建设智能工厂和数字化车间以汽车装备钢铁石化食品等行业为重点生产线自动改造工业机器人增材制应用实现"
               "联网据采集过程可视管控鼓励程电力床企在中嵌入传感通信模块开展远监测故障预警维护服务向提供商转变"))
)  # fmt: skip
_DATES = st.one_of(st.none(), st.dates(dt.date(2015, 1, 1), dt.date(2017, 12, 31)).map(dt.date.isoformat))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    copied=st.text(_PLAN_CHARS, min_size=30, max_size=120),
    before=st.text(_CJK, max_size=40),
    after=st.text(_CJK, max_size=40),
    date_a=_DATES,
    date_b=_DATES,
)
def test_a_copied_clause_is_always_found_and_its_direction_follows_the_dates(
    copied, before, after, date_a, date_b
):
    filler = [_line("hubei-2016-8", a) for a, _ in PAIRS[:2]]
    a = document("a", [*filler, copied + "。"], date_a, "湖北")
    b = document(
        "b", [_line("shandong-2016-14", "1.发展农村电子商务"), f"{before}。{copied}。{after}"], date_b, "山东"
    )
    index = ReuseIndex(ENCODER.dim)
    links = [link for link in index.add_all([a, b]) if link.kind == VERBATIM]
    assert [
        (link.source_clause_id, link.target_clause_id) in {("a:0002", "b:0001"), ("b:0001", "a:0002")}
        for link in links
    ] == [True]
    link = links[0]
    order = direction(date_a, date_b)
    assert link.directed == (order != 0)
    if order:
        assert link.source_doc_id == ("a" if order < 0 else "b")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(_CJK, min_size=1, max_size=60), min_size=1, max_size=6))
def test_measures_of_any_links_stay_in_range(texts):
    a = document("a", texts, "2016-01-01", "湖北")
    b = document("b", texts[::-1], "2016-02-01", "湖南")
    index = ReuseIndex(ENCODER.dim)
    index.add_all([a, b])
    infos = {
        d.doc_id: DocumentInfo(d.doc_id, d.province, len(d.clauses), tuple(c.clause_id for c in d.clauses))
        for d in (a, b)
    }
    for row in document_similarity(index.links, infos, index.centroids()):
        assert 0 <= row.verbatim_share <= 1 and 0 <= row.reused_share <= 1
    for row in localization(index.links, infos, "not measured: test"):
        shares = [row.original, row.reused_own_province, row.reused_other_province]
        assert sum(shares) == row.n_clauses and row.reused_national is None


def _link(kind: str, source: tuple[str, str], target: tuple[str, str], directed: bool = True) -> ReuseLink:
    return ReuseLink(kind, source[0], source[1], target[0], target[1], directed, 1.0, 40, 0.99, 1.0)


def test_localization_classes_by_source():
    docs = {
        "hubei": DocumentInfo("hubei", "湖北", 4, ("h1", "h2", "h3", "h4")),
        "wuhan": DocumentInfo("wuhan", "湖北", 4, ("w1", "w2", "w3", "w4")),
        "hunan": DocumentInfo("hunan", "湖南", 2, ("n1", "n2")),
        NATIONAL_DOC_ID: DocumentInfo(NATIONAL_DOC_ID, None, 65),
    }
    links = [
        _link(VERBATIM, ("hubei", "h1"), ("wuhan", "w1")),
        _link(PARAPHRASE, ("hubei", "h2"), ("wuhan", "w2")),
        _link(VERBATIM, ("hunan", "n1"), ("wuhan", "w3")),
        _link(VERBATIM, ("hunan", "n1"), ("hubei", "h1")),
        _link(VERBATIM, (NATIONAL_DOC_ID, "national:II.1.1"), ("wuhan", "w1")),
    ]
    rows = {r.doc_id: r for r in localization(links, docs, "measured", beyond={"w4": True})}
    wuhan = rows["wuhan"]
    assert (
        wuhan.reused_national,
        wuhan.reused_own_province,
        wuhan.reused_other_province,
        wuhan.original,
    ) == (1, 1, 1, 1)
    assert wuhan.beyond_national_plan == 1 and wuhan.share(wuhan.original) == 0.25
    assert (rows["hubei"].reused_other_province, rows["hubei"].original) == (1, 3)  # h2 was copied *from* it
    assert rows["hunan"].original == 2


def test_document_similarity_counts_clauses_by_kind():
    docs = {"a": DocumentInfo("a", "湖北", 4), "b": DocumentInfo("b", "湖南", 2)}
    links = [_link(VERBATIM, ("a", "a1"), ("b", "b1")), _link(PARAPHRASE, ("a", "a2"), ("b", "b2"))]
    rows = {(r.doc_id, r.other_doc_id): r for r in document_similarity(links, docs)}
    assert rows[("a", "b")].verbatim_share == 0.25 and rows[("a", "b")].reused_share == 0.5
    assert rows[("b", "a")].reused_share == 1.0 and rows[("b", "a")].earlier == "a"


def test_homogeneity_ranks_shared_wording_above_local_wording():
    texts = {
        "g1": _line("guangdong-2015-53", "（六）强化网络信息安全"),
        "s1": _line("shandong-2016-14", "（三）保障网络和信息安全"),
        "g2": _line("guangdong-2015-53", "1.建设众创空间"),
        "s2": _line("shandong-2016-14", "1.建设一批众创空间"),
        "h2": _line("hubei-2016-8", "2.建设光谷众创空间集群"),
    }
    evidence = {
        "III.1.4": {"gd": "g1", "sd": "s1"},
        "II.1.2": {"gd": "g2", "sd": "s2", "hb": "h2"},
        "II.9.9": {"gd": "g2"},
    }
    rows = {r.measure_id: r for r in homogeneity(evidence, {"gd": "广东", "sd": "山东", "hb": "湖北"}, texts)}
    assert set(rows) == {"III.1.4", "II.1.2"}  # one province is no comparison
    assert rows["III.1.4"].homogeneity > rows["II.1.2"].homogeneity
    assert rows["II.1.2"].n_pairs == 3 and rows["II.1.2"].n_provinces == 3


def test_tables_follow_the_schema_and_every_column_is_documented(hubei, wuhan):
    con = duckdb.connect()
    con.execute(SCHEMA.read_text(encoding="utf-8"))
    declared = {table: schema_columns()[table] for table in REUSE_TABLES}
    assert all(comment.strip() for columns in declared.values() for comment in columns.values())
    index = _index()
    index.add_all([hubei, wuhan])
    infos = {d.doc_id: DocumentInfo(d.doc_id, d.province, len(d.clauses)) for d in (hubei, wuhan)}
    frames = {
        "clause_reuse": clause_reuse_rows(index.links, "run-1"),
        "document_similarity": document_similarity_rows(
            document_similarity(index.links, infos, index.centroids()), "run-1"
        ),
        "document_localization": document_localization_rows(
            localization(index.links, infos, "not measured: no text"), "run-1"
        ),
        "measure_homogeneity": measure_homogeneity_rows([], "run-1"),
    }
    for table, frame in frames.items():
        columns = [
            r[0]
            for r in con.execute(
                f"SELECT column_name FROM duckdb_columns() WHERE table_name = '{table}'"
            ).fetchall()
        ]
        assert list(frame.columns) == columns, table
        con.register("frame", frame)
        con.execute(f"INSERT INTO {table} SELECT * FROM frame")
        con.unregister("frame")
    assert con.execute("SELECT count(*) FROM clause_reuse WHERE kind = 'verbatim'").fetchone() == (4,)
    assert con.execute("SELECT reused_national_share FROM document_localization LIMIT 1").fetchone() == (
        None,
    )


def test_shipped_reuse_labels_quote_their_sources():
    files = reuse_label_files(CORPUS)
    assert {f.name for f in files} >= {"wuhan-2016-18.reuse.tsv", "shandong-2016-14.reuse.tsv"}
    kinds = {VERBATIM: 0, PARAPHRASE: 0}
    for path in files:
        for label in read_reuse_labels(path):
            kinds[label.kind] += 1
            assert (
                label.clause_text in (SOURCES / f"{label.stem}.txt").read_text(encoding="utf-8").splitlines()
            )
            assert (
                label.source_text
                in (SOURCES / f"{label.source_stem}.txt").read_text(encoding="utf-8").splitlines()
            )
    assert kinds[VERBATIM] >= 17 and kinds[PARAPHRASE] >= 13
    ranked = read_homogeneity_labels(CORPUS / "homogeneity.tsv")
    assert [label.rank for label in ranked] == sorted(label.rank for label in ranked)


def test_reuse_label_errors_name_the_row(tmp_path):
    path = tmp_path / "x.reuse.tsv"
    path.write_text("clause_text\tsource_document\tsource_text\tkind\na\tb\tc\tcopied\n", encoding="utf-8")
    with pytest.raises(
        LabelError, match=r"x.reuse.tsv row 2: kind must be verbatim or paraphrase, got 'copied'"
    ):
        read_reuse_labels(path)
    path.write_text("text\tkind\n", encoding="utf-8")
    with pytest.raises(LabelError, match=r"x\.reuse\.tsv: header must be"):
        read_reuse_labels(path)


def test_a_stored_rule_exists_for_the_hashing_encoder_and_e5():
    rule = rule_for(ENCODER.model_id)
    assert rule is not None and rule.positives >= 10
    assert rule.similarity_threshold(0.3) < rule.similarity_threshold(0.0) or rule.w_wording <= 0
    assert np.isfinite(rule.probability(0.5, 0.3))


@pytest.mark.model
@pytest.mark.slow
def test_reuse_on_the_sample_corpus_meets_its_targets():
    from compare.diffusion.evaluate import evaluate_corpus

    result = evaluate_corpus(CORPUS)
    assert result.figures[VERBATIM].precision >= 0.95 and result.figures[VERBATIM].recall >= 0.95
    assert result.figures[PARAPHRASE].precision >= 0.85 and result.figures[PARAPHRASE].recall >= 0.85
    assert result.direction_correct == result.direction_checked > 0
    assert result.national_text.startswith("not measured")
    assert result.homogeneity is not None and result.homogeneity.pair_agreement >= 0.8

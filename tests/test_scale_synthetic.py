"""The synthetic corpus: deterministic, of the right shape, and read by the pipeline as city and county plans."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from compare.errors import CompareError, SettingsError
from compare.ingest.numbering import marker_of
from compare.scale import synthetic

SEED = 11


def _font_or_skip() -> None:
    try:
        synthetic._prepare_renderer(None)
    except CompareError as exc:
        pytest.skip(str(exc))


def test_a_document_depends_only_on_the_seed_and_its_index():
    first = [d.text for d in synthetic.documents(6, SEED)]
    assert first == [d.text for d in synthetic.documents(6, SEED)]
    assert first[:3] == [d.text for d in synthetic.documents(3, SEED)]
    assert first != [d.text for d in synthetic.documents(6, SEED + 1)]
    assert len(set(first)) == len(first)


def test_documents_are_city_or_county_plans_of_a_new_place():
    for doc in synthetic.documents(40, SEED):
        sample = next(s for s in synthetic.samples() if s.stem == doc.sample)
        red = doc.text.splitlines()[0]
        assert red == f"@red {doc.place.name}人民政府{'办公室' if '办公' in red else ''}文件"
        assert doc.place.level in {"市", "县"}
        assert doc.file_name.startswith(f"{doc.index:05d}-{doc.place.kind}-{doc.sample}")
        if sample.level == "省":  # the province's departments became the city's or county's
            groups = re.findall(r"（[^（）]*(?:负责|牵头|配合)）", doc.text)
            assert groups and not any(re.search(r"[（、，]省", g) for g in groups), doc.file_name
            assert "全省" not in doc.text and "我省" not in doc.text, doc.file_name


def test_numbering_is_consecutive_after_items_are_dropped_merged_and_borrowed():
    changed = {"dropped": 0, "merged": 0, "swapped": 0, "borrowed": 0}
    for doc in synthetic.documents(30, SEED):
        for key in changed:
            changed[key] += doc.changes[key]
        counters: list[int] = []
        for line in doc.text.splitlines():
            marker = marker_of(line)
            if line.startswith("@") or marker is None:
                continue
            del counters[marker.level + 1 :]
            counters += [0] * (marker.level + 1 - len(counters))
            counters[marker.level] += 1
            expected = synthetic._marker(marker.level, counters[marker.level])
            assert line.startswith(expected), f"{doc.file_name}: {line[:20]} (expected {expected})"
    assert all(count > 0 for count in changed.values()), changed


def test_place_swap_changes_departments_and_level_words_not_ordinary_words():
    hunan = next(s for s in synthetic.samples() if s.short == "湖南")
    chengdu = next(s for s in synthetic.samples() if s.short == "成都")
    city = synthetic.Place("株洲市", "株洲", "市", "湖南")
    county = synthetic.Place("蒲江县", "蒲江县", "县", "四川")
    assert (
        synthetic.swap_place("全省推进。（省经信委牵头，省科技厅配合）", hunan, city)
        == "全市推进。（市经信委牵头，市科技局配合）"
    )
    assert synthetic.swap_place("湖南省人民政府办公厅", hunan, city) == "株洲市人民政府办公室"
    line = "发挥市场主导作用，建设成都市数据中心。（市经信委负责）"
    assert (
        synthetic.swap_place(line, chengdu, county)
        == "发挥市场主导作用，建设蒲江县数据中心。（县经信委负责）"
    )


def test_targets_are_varied_within_bounds_and_years_kept():
    import random

    rng = random.Random(1)
    for _ in range(50):
        varied = synthetic._vary_targets(
            "到2017年，普及率达到95%，建成100个基地，交易额突破1.5万亿元。", rng, (0.1, 0.3)
        )
        assert varied.startswith("到2017年")
        percent = int(re.search(r"达到(\d+)%", varied)[1])  # type: ignore[index]
        assert 1 <= percent < 100
        assert int(re.search(r"建成(\d+)个", varied)[1]) <= 30  # type: ignore[index]


@pytest.mark.slow
def test_generate_writes_pdfs_the_pipeline_reads_as_city_and_county_plans(tmp_path):
    _font_or_skip()
    from compare.ingest.parse import parse_document

    first = synthetic.generate(tmp_path / "a", 3, SEED)
    again = synthetic.generate(tmp_path / "a", 3, SEED)
    other = synthetic.generate(tmp_path / "b", 3, SEED)
    assert (first.rendered, again.rendered, again.reused) == (3, 0, 3)
    manifest = json.loads((tmp_path / "a" / synthetic.MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["seed"] == SEED and len(manifest["files"]) == 3 == other.documents
    for entry in manifest["files"]:
        pdf = tmp_path / "a" / entry["file_name"]
        assert pdf.read_bytes() == (tmp_path / "b" / entry["file_name"]).read_bytes()
        doc = parse_document(pdf)
        assert doc.ok, doc.message
        assert doc.meta.level == entry["level"]
        assert len(doc.clauses) > 30 and doc.departments


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(SettingsError, match="documents must be between"):
        synthetic.generate(tmp_path, 0, SEED)
    with pytest.raises(SettingsError, match="jobs must be at least 1"):
        synthetic.generate(tmp_path, 2, SEED, jobs=0)
    with pytest.raises(CompareError, match="no sample sources"):
        synthetic.samples(tmp_path)


def test_cli_help_has_examples_and_generate_runs(tmp_path):
    from compare.cli.main import app

    runner = CliRunner()
    for command in ("generate", "run"):
        result = runner.invoke(app, ["scale", command, "--help"])
        assert result.exit_code == 0 and "Example: compare scale " + command in result.output
    _font_or_skip()
    result = runner.invoke(
        app, ["scale", "generate", "--out", str(tmp_path), "--documents", "2", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("*.pdf"))) == 2


def test_the_cli_defaults_are_the_staging_and_flow_defaults():
    from flows import scale_flow

    from compare.cli import scale as cli_scale
    from compare.scale import staging

    assert cli_scale.DEFAULT_BATCH_SIZE == staging.DEFAULT_BATCH_SIZE
    assert cli_scale.DEFAULT_IN_FLIGHT == scale_flow.DEFAULT_IN_FLIGHT

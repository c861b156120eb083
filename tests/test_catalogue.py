"""The national catalogue: 65 measures by position, their texts and ministries."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from compare.errors import CatalogueError, SeedFormatError
from compare.match.catalogue import (
    MEASURE_COUNT,
    PART_II_SHAPE,
    PART_III_SHAPE,
    Catalogue,
    expected_ids,
    load_catalogue,
    parse_seed,
    write_catalogue,
)
from tests.conftest import CATALOGUE


def test_counts_and_ids(catalogue):
    assert MEASURE_COUNT == 65 and len(catalogue) == 65
    assert sum(1 for m in catalogue if m.part == "II") == 40
    assert sum(1 for m in catalogue if m.part == "III") == 25
    assert catalogue.ids[0] == "II.1.1" and catalogue.ids[39] == "II.11.3"
    assert catalogue.ids[40] == "III.1.1" and catalogue.ids[-1] == "III.7.3"
    assert len(set(catalogue.ids)) == 65


def test_sections_numbered_by_position_not_by_misprinted_heading(catalogue):
    # The translation prints "(1)" for the second action and "(5)" for the fourth support section.
    assert catalogue.by_id("II.2.1").title_en == "Forcefully developing smart manufacturing."
    assert catalogue.by_id("II.2.1").section_title_zh == "“互联网+”协同制造"
    assert catalogue.by_id("III.4.1").section_title_en == "Expand foreign cooperation"
    assert catalogue.by_id("III.5.1").title_en == "Strengthening training for applied capabilities."
    for part, shape in (("II", PART_II_SHAPE), ("III", PART_III_SHAPE)):
        for section_no, count in enumerate(shape, start=1):
            assert sum(1 for m in catalogue if m.part == part and m.section_no == section_no) == count


def test_every_measure_has_title_text_and_lead_ministry(catalogue):
    for m in catalogue:
        assert m.title_en.endswith(".") and len(m.title_en) < len(m.text_en)
        assert m.text_en.startswith(m.title_en)
        assert m.lead_ministry
    assert catalogue.by_id("III.5.2").lead_ministry == "Ministry of Education"
    assert catalogue.by_id("II.2.1").ministries[:2] == (
        "Ministry of Industry and Information Technology",
        "Development and Reform Commission",
    )
    assert (
        "Administration of Quality Supervision, Inspection and Quarantine"
        in catalogue.by_id("III.2.2").ministries
    )


def test_chinese_paragraph_attached_to_its_measure(catalogue):
    with_zh = [m for m in catalogue if m.text_zh]
    assert [m.measure_id for m in with_zh] == ["III.3.1"]
    assert with_zh[0].text_zh.startswith("1.构建开放包容环境。")
    assert "III.3.1" in catalogue.source["text_zh_from"]


def test_shipped_catalogue_is_what_the_parser_builds(seed_text, tmp_path):
    rebuilt = write_catalogue(
        parse_seed(seed_text, source_name="001_9829cb079ef84c7a.txt"), tmp_path / "c.json"
    )
    assert json.loads(rebuilt.read_text()) == json.loads(CATALOGUE.read_text())


def test_loader_rejects_wrong_shape(catalogue, tmp_path):
    short = Catalogue.__new__(Catalogue)
    object.__setattr__(short, "measures", catalogue.measures[:-1])
    object.__setattr__(short, "source", {})
    path = write_catalogue(short, tmp_path / "short.json")
    with pytest.raises(CatalogueError, match="64 measures"):
        load_catalogue(path)


def test_loader_rejects_bad_files(tmp_path):
    with pytest.raises(CatalogueError, match="not found"):
        load_catalogue(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogueError, match="not valid JSON"):
        load_catalogue(bad)
    bad.write_text(json.dumps({"measures": [{"measure_id": "II.1.1", "colour": "red"}]}), encoding="utf-8")
    with pytest.raises(CatalogueError, match="unknown fields"):
        load_catalogue(bad)


def test_catalogue_rejects_measure_without_ministry(catalogue):
    broken = list(catalogue.measures)
    broken[0] = replace(broken[0], ministries=())
    with pytest.raises(CatalogueError, match=r"II\.1\.1"):
        Catalogue(measures=tuple(broken))


def test_seed_without_structure_is_refused():
    with pytest.raises(SeedFormatError):
        parse_seed("just some text\nwith no parts\n")


def test_expected_ids_shape():
    ids = expected_ids()
    assert len(ids) == 65 and ids[3] == "II.2.1" and ids[40] == "III.1.1"

"""The Chinese national text, aligned by structure (fixture: tests/data/national, marked as such)."""

from __future__ import annotations

import shutil

import pytest

from compare.errors import CatalogueError
from compare.match import measure_passages
from compare.national_zh import chinese_number
from compare.pipeline import channel_names, load_run_catalogue
from compare.settings import Settings
from tests.conftest import CATALOGUE, CORPUS, DATA

FIXTURE = DATA / "national" / "guofa-2015-40-fixture.pdf"


@pytest.mark.parametrize(
    ("text", "value"), [("一", 1), ("（七）", 7), ("十", 10), ("十一", 11), ("二十三", 23)]
)
def test_chinese_numbers(text, value):
    assert chinese_number(text) == value


def _settings(tmp_path, pdf=None):
    folder = tmp_path / "national"
    folder.mkdir()
    shutil.copy(CATALOGUE, folder / "catalogue.json")
    if pdf is not None:
        shutil.copy(pdf, folder / pdf.name)
    return Settings(catalogue=folder / "catalogue.json")


def test_chinese_plan_gives_every_measure_its_text(tmp_path, seed_text):
    catalogue = load_run_catalogue(_settings(tmp_path, FIXTURE))
    assert all(m.text_zh for m in catalogue)
    assert catalogue.by_id("II.2.1").text_zh.startswith("1.大力发展智能制造。")
    assert catalogue.by_id("III.7.3").text_zh.startswith("3.有序推进实施。")
    # the one measure whose Chinese text the seed carries is the seed's paragraph
    assert catalogue.by_id("III.3.1").text_zh[:40].replace(" ", "") in seed_text.replace(" ", "")
    assert catalogue.source["text_zh_from"] == FIXTURE.name
    assert ":zh" in measure_passages(catalogue)
    assert "hashing:zh" in channel_names(["hashing"], catalogue, with_exemplars=False)


def test_without_a_chinese_plan_the_catalogue_is_the_seeds(tmp_path):
    catalogue = load_run_catalogue(_settings(tmp_path))
    assert [m.measure_id for m in catalogue if m.text_zh] == ["III.3.1"]


def test_a_pdf_that_is_not_the_national_plan_is_refused_by_name(tmp_path):
    with pytest.raises(CatalogueError, match=r"hunan-2015-86\.pdf: its structure does not align"):
        load_run_catalogue(_settings(tmp_path, CORPUS / "hunan-2015-86.pdf"))

"""The Chinese national text, aligned by structure (fixture: tests/data/national, marked as such)."""

from __future__ import annotations

import shutil

import pytest

from compare.errors import CatalogueError
from compare.match.national_zh import chinese_number
from compare.match.scorer import channel_names, load_run_catalogue
from compare.match.scoring import measure_passages
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


@pytest.mark.slow
def test_evaluate_calibrates_with_the_chinese_text_and_runs_use_that_calibration(tmp_path, monkeypatch):
    """With the Chinese plan beside the catalogue, ``compare evaluate --calibrate`` fits the
    ``:zh`` channels too, and a run over the same settings is calibrated, not on defaults."""
    import json

    from typer.testing import CliRunner

    from compare.cli.main import app
    from compare.run import pipeline
    from compare.store import warehouse

    settings = _settings(tmp_path, FIXTURE)
    gold = tmp_path / "gold"
    gold.mkdir()
    for stem in ("guizhou-2015-35", "ningbo-2016-29", "shandong-2016-14"):
        shutil.copy(CORPUS / f"{stem}.pdf", gold / f"{stem}.pdf")
        shutil.copy(CORPUS / f"{stem}.labels.tsv", gold / f"{stem}.labels.tsv")
    calibration = tmp_path / "calibration.json"
    monkeypatch.setenv("COMPARE_CATALOGUE", str(settings.catalogue))
    monkeypatch.setenv("COMPARE_CALIBRATION", str(calibration))
    monkeypatch.setenv("COMPARE_MODELS", "hashing")
    monkeypatch.setenv("COMPARE_EXEMPLARS", "none")
    monkeypatch.setenv("COMPARE_CACHE_DIR", str(tmp_path / "cache"))
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--gold",
            str(gold),
            "--warehouse",
            str(tmp_path / "e.duckdb"),
            "--out",
            str(tmp_path / "e.md"),
            "--calibrate",
        ],
    )
    assert result.exit_code == 0, result.output
    fitted = json.loads(calibration.read_text(encoding="utf-8"))
    assert {"hashing", "hashing:sent", "hashing:zh", "lexical"} <= set(fitted["weights"]), fitted["weights"]

    run_settings = Settings.from_env(corpus=gold, warehouse=tmp_path / "w.duckdb")
    assert run_settings.models == ("hashing",) and run_settings.catalogue == settings.catalogue
    summary = pipeline.run(run_settings)
    assert summary.n_failed == 0
    with warehouse.read_only(run_settings.warehouse) as con:
        (thresholds,) = con.execute("SELECT thresholds FROM runs").fetchone()
    assert json.loads(thresholds)["source"].startswith(str(calibration)), thresholds

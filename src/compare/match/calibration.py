"""Fusion weights and decision thresholds, as stored in a calibration file.

``compare evaluate --calibrate`` fits them on labelled documents (cross-validated by document)
and writes the file; a run uses the file whose models match its own, and records what it used.
Without one, a run uses the documented uncalibrated defaults below and says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from compare.errors import SettingsError
from compare.match.relevance import RelevanceCutoffs, cutoffs_from
from compare.match.scoring import ABSOLUTE_SUFFIX, LEXICAL, Fusion, Thresholds

#: Uncalibrated defaults, in units of the fused score (a weighted mean of per-clause z-scores):
#: a measure must stand about three standard deviations above a clause's other measures.
DEFAULT_COVERED = 3.0
DEFAULT_PARTIAL = 2.4
DEFAULT_CLAUSE = 2.4
DEFAULT_LEXICAL_WEIGHT = 1.0
#: How the source of an uncalibrated calibration begins.
UNCALIBRATED = "uncalibrated defaults"


@dataclass(frozen=True)
class Calibration:
    """What turns channel scores into decisions."""

    models: tuple[str, ...]
    weights: dict[str, float]
    thresholds: Thresholds
    source: str
    metrics: dict[str, Any]
    relevance: RelevanceCutoffs = field(default_factory=RelevanceCutoffs)

    @property
    def fitted(self) -> bool:
        """Whether it was fitted on labelled documents (the relevance verdict needs that)."""
        return not self.source.startswith(UNCALIBRATED)

    @property
    def fusion(self) -> Fusion:
        return Fusion(self.weights)

    def as_record(self) -> dict[str, Any]:
        return {
            "models": list(self.models),
            "weights": self.weights,
            "thresholds": asdict(self.thresholds),
            "source": self.source,
            "metrics": self.metrics,
            "relevance": self.relevance.as_record(),
        }


def default_calibration(
    models: tuple[str, ...], channels: Sequence[str], why: str = "no calibration file"
) -> Calibration:
    """Uncalibrated: the mean of the semantic channels' z-scores, plus the lexical channel. The
    absolute channels (raw cosines, on each model's own scale) weigh nothing until fitted."""
    semantic = [c for c in channels if c != LEXICAL and not c.endswith(ABSOLUTE_SUFFIX)]
    weights = {c: 1.0 / len(semantic) for c in semantic}
    weights.update({c: 0.0 for c in channels if c.endswith(ABSOLUTE_SUFFIX)})
    if LEXICAL in channels:
        weights[LEXICAL] = DEFAULT_LEXICAL_WEIGHT
    return Calibration(
        models=models,
        weights=weights,
        thresholds=Thresholds(covered=DEFAULT_COVERED, partial=DEFAULT_PARTIAL, clause=DEFAULT_CLAUSE),
        source=f"{UNCALIBRATED} ({why})",
        metrics={},
    )


def load_calibration(path: Path, models: tuple[str, ...], channels: Sequence[str]) -> Calibration:
    """The calibration in ``path`` if it was fitted for exactly these channels, else the defaults."""
    if not path.is_file():
        return default_calibration(models, channels, f"{path} not found")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        stored_models = tuple(payload["models"])
        thresholds = Thresholds(**payload["thresholds"])
        weights = {str(k): float(v) for k, v in payload["weights"].items()}
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise SettingsError(
            f"{path}: not a calibration file ({exc}); refit it with `compare evaluate --calibrate`"
        ) from exc
    if stored_models != models or set(weights) != set(channels):
        why = f"{path} was fitted for channels {sorted(weights)}, this run scores {sorted(channels)}"
        return default_calibration(models, channels, why)
    return Calibration(
        models=models,
        weights=weights,
        thresholds=thresholds,
        source=f"{path} ({payload.get('fitted_on', 'unknown data')})",
        metrics=dict(payload.get("metrics", {})),
        relevance=cutoffs_from(payload.get("relevance")),
    )


def write_calibration(calibration: Calibration, path: Path, *, fitted_on: str) -> Path:
    payload = {**calibration.as_record(), "fitted_on": fitted_on}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path

"""What the flows share besides their tasks: a run's settings from the flow's parameters.

Kept apart from ``flows.compare_flow`` so that ``flows.scale_flow`` (and its Dask workers) do
not import the report modules.
"""

from __future__ import annotations

from collections.abc import Sequence

from compare.settings import Settings


def run_settings(
    corpus: str, warehouse_path: str, models: Sequence[str], top_k: int, catalogue: str, calibration: str
) -> Settings:
    """The run's settings: the flow's parameters over the ``COMPARE_*`` environment and the defaults."""
    return Settings.from_env(
        corpus=corpus,
        warehouse=warehouse_path,
        models=models,
        top_k=top_k,
        catalogue=catalogue,
        calibration=calibration,
    )

"""A scheduled deployment of the main flow, served by this process against a Prefect server.

    prefect server start                                  # once, in its own terminal or service
    PREFECT_API_URL=http://127.0.0.1:4200/api compare serve --cron "0 3 * * *"

``serve`` registers the deployment ``compare-run/<name>`` with its cron schedule and runs each
scheduled (or manually triggered) flow run in a subprocess, one at a time, until stopped.
Schedules live on the server: a temporary server (what a one-off ``compare run`` starts)
would forget them, so ``serve`` refuses to start without a reachable ``PREFECT_API_URL``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from prefect.client.schemas.schedules import CronSchedule
from prefect.flows import EntrypointType
from prefect.settings import PREFECT_API_URL

from compare.errors import SettingsError
from flows.compare_flow import DEFAULT_WORKERS, compare_run

DEFAULT_NAME = "scheduled"
DEFAULT_TIMEZONE = "UTC"
#: One run at a time: runs publish the same warehouse.
CONCURRENT_RUNS = 1
HEALTH_TIMEOUT_S = 5.0


def api_url() -> str:
    """The configured Prefect server, checked to answer; a ``SettingsError`` saying how to start one."""
    url = PREFECT_API_URL.value()
    start = (
        "start one with `prefect server start` (in its own terminal or as a service) and set "
        "PREFECT_API_URL=http://127.0.0.1:4200/api"
    )
    if not url:
        raise SettingsError(f"schedules need a Prefect server, and PREFECT_API_URL is not set; {start}")
    try:
        response = httpx.get(url.rstrip("/") + "/health", timeout=HEALTH_TIMEOUT_S)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise SettingsError(f"no Prefect server answers at {url} ({exc}); {start}") from exc
    return url


def schedule(cron: str, timezone: str = DEFAULT_TIMEZONE) -> CronSchedule:
    """The cron schedule, or a ``SettingsError`` naming what is wrong with it."""
    try:
        return CronSchedule(cron=cron, timezone=timezone)
    except ValueError as exc:
        raise SettingsError(
            f"not a usable schedule: cron {cron!r}, timezone {timezone!r} ({exc}); "
            'give five cron fields, e.g. "0 3 * * *" for 03:00 every day, and an IANA timezone such as Asia/Shanghai'
        ) from exc


def parameters(
    corpus: Path, warehouse_path: Path, models: list[str], top_k: int, workers: int = DEFAULT_WORKERS
) -> dict[str, Any]:
    """The flow parameters of every scheduled run (absolute paths: runs start in their own process)."""
    return {
        "corpus": str(corpus.resolve()),
        "warehouse_path": str(warehouse_path.resolve()),
        "models": list(models),
        "top_k": top_k,
        "workers": workers,
    }


def serve(
    cron: str,
    run_parameters: dict[str, Any],
    *,
    name: str = DEFAULT_NAME,
    timezone: str = DEFAULT_TIMEZONE,
) -> None:
    """Register ``compare-run/<name>`` on the server with the schedule and serve its runs until stopped."""
    api_url()
    compare_run.serve(
        name=name,
        schedules=[schedule(cron, timezone)],
        parameters=run_parameters,
        limit=CONCURRENT_RUNS,
        description="Match new or changed provincial plans and publish the warehouse (scheduled).",
        tags=["compare"],
        entrypoint_type=EntrypointType.MODULE_PATH,
    )

"""A scheduled deployment of the main flow, served by this process against a Prefect server.

    prefect server start                                  # once, in its own terminal or service
    PREFECT_API_URL=http://127.0.0.1:4200/api compare serve --cron "0 3 * * *"

``serve`` registers the deployment ``compare-run/<name>`` with its cron schedule and runs each
scheduled (or manually triggered) flow run in a subprocess, one at a time, until stopped.
Schedules live on the server: a temporary server (what a one-off ``compare run`` starts)
would forget them, so ``serve`` refuses to start without a reachable ``PREFECT_API_URL``.

SIGTERM (what systemd and supervisor send) and SIGINT (Ctrl-C) stop it within seconds: the
runner stops polling, a run in flight is cancelled (its process is signalled and, after a
grace period, killed; publishing renames a finished snapshot into place, so a cancelled run
leaves the warehouse as it was), the schedule is paused while nobody serves it (serving again
resumes it), and no child process is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psutil
from prefect.client.schemas.schedules import CronSchedule
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import EntrypointType
from prefect.runner import Runner
from prefect.settings import PREFECT_API_URL

from compare.errors import SettingsError
from compare.run.lifecycle import stop_descendants
from flows.compare_flow import DEFAULT_WORKERS, compare_run

DEFAULT_NAME = "scheduled"
DEFAULT_TIMEZONE = "UTC"
#: One run at a time: runs publish the same warehouse.
CONCURRENT_RUNS = 1
HEALTH_TIMEOUT_S = 5.0
#: Seconds the runner has to cancel a run in flight and stop, once a stop signal arrives (about
#: 5 s here; more on a loaded machine). Past it, the processes are stopped without the runner and
#: the runs they served are marked cancelled on the server.
STOP_GRACE_S = 15.0
#: Seconds a run in flight has to end on the runner's SIGTERM before it is killed.
KILL_AFTER_S = 3.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

logger = logging.getLogger("compare.serve")


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
    """Register ``compare-run/<name>`` on the server with the schedule and serve its runs until stopped.

    Returns after SIGTERM or SIGINT, with the run in flight cancelled and no child process left.
    """
    api_url()
    deployment: RunnerDeployment = compare_run.to_deployment(  # type: ignore[assignment] # sync call: no coroutine
        name=name,
        schedules=[schedule(cron, timezone)],
        parameters=run_parameters,
        description="Match new or changed provincial plans and publish the warehouse (scheduled).",
        tags=["compare"],
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    runner = Runner(name=f"compare-{name}", limit=CONCURRENT_RUNS, pause_on_shutdown=True)
    deployment_id: UUID = runner.add_deployment(deployment)  # type: ignore[assignment] # sync call
    stopped = False
    try:
        stopped = asyncio.run(_serve_until_stopped(runner))
    finally:
        stop_descendants()
        if stopped:
            cancel_unfinished_runs(deployment_id)


def cancel_unfinished_runs(deployment_id: UUID) -> list[UUID]:
    """Mark the deployment's runs still pending or running as cancelled (their processes are
    gone); the ids marked. The runner marks the run it cancels itself, but not one whose process
    it could not stop in time, nor one it did not know it had; the server would show those running."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(
                        any_=[StateType.RUNNING, StateType.PENDING, StateType.CANCELLING]
                    )
                )
            ),
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        )
        for run in runs:
            client.set_flow_run_state(run.id, Cancelled(message="compare serve was stopped"), force=True)
    return [run.id for run in runs]


async def _serve_until_stopped(runner: Runner) -> bool:
    """Run ``runner`` until it ends or a stop signal arrives; then stop it within the grace period.
    True when a stop signal ended it (what the runner did not stop is left to the caller).

    Prefect's runner installs a SIGTERM handler that waits on its own event loop from inside
    that loop, so the process never stops; the handlers here replace it once the runner started.
    """
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    serving = asyncio.create_task(runner.start())
    await asyncio.sleep(0)  # the runner installs its handler as it starts: replace it after that
    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, stopping.set)
    try:
        waiting = asyncio.create_task(stopping.wait())
        await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if serving.done():
            serving.result()
            return False
        logger.info("stop signal received: cancelling the run in flight and stopping")
        stopping_runner = asyncio.create_task(_stopped(runner, serving))
        done, _ = await asyncio.wait({stopping_runner}, timeout=KILL_AFTER_S)
        if not done:
            # a run busy in native code (OCR, a model) sees the runner's SIGTERM late, and the
            # runner waits for it: end it, and the runner finishes its cancellation at once
            killed = kill_descendants()
            logger.info("the run in flight did not end within %.0f s: killed %s", KILL_AFTER_S, killed)
        try:
            await asyncio.wait_for(stopping_runner, STOP_GRACE_S)
        except TimeoutError:
            logger.warning("the runner did not stop within %.0f s; stopping its processes", STOP_GRACE_S)
            serving.cancel()
        return True
    finally:
        for number in STOP_SIGNALS:
            loop.remove_signal_handler(number)


def kill_descendants() -> list[int]:
    """SIGKILL every descendant of this process, without waiting (the event loop reaps its own
    children); their pids. Publishing renames a finished snapshot into place, so a killed run
    leaves the warehouse as it was."""
    killed = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.kill()
            killed.append(child.pid)
    return killed


async def _stopped(runner: Runner, serving: asyncio.Task[None]) -> None:
    await runner.astop()
    await serving

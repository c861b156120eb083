"""The scale flow on a local Dask cluster of two worker processes gives, bit for bit, the
warehouse a single process gives."""

from __future__ import annotations

import pytest

from compare.errors import CompareError
from compare.scale import docscore, staging, synthetic
from compare.settings import Settings

pytestmark = [pytest.mark.flow, pytest.mark.slow]
DOCUMENTS = 5
WORKERS = 2


def _scorers_loaded() -> int:
    """On a worker: how many scorers its process holds (models loaded once per process)."""
    return len(docscore._PROCESS_SCORER)


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def test_two_dask_workers_publish_the_single_process_warehouse(harness, tmp_path, monkeypatch):
    from distributed import Client, LocalCluster
    from flows.scale_flow import run_scale

    try:
        synthetic.generate(tmp_path / "corpus", DOCUMENTS, seed=9)
    except CompareError as exc:
        pytest.skip(str(exc))
    (tmp_path / "corpus" / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    monkeypatch.setenv("COMPARE_CACHE_DIR", str(tmp_path / "cache"))
    # one document per batch, two batches in flight: the window refills as batches finish
    parameters = {"corpus": str(tmp_path / "corpus"), "models": ["hashing"], "batch_size": 1, "in_flight": 2}

    with (
        LocalCluster(
            n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        summary = run_scale(
            workers=WORKERS,
            address=cluster.scheduler_address,
            warehouse_path=str(tmp_path / "dask.duckdb"),
            staging_dir=str(tmp_path / "stage-dask"),
            **parameters,
        )
        loaded = client.run(_scorers_loaded)
    assert sorted(loaded.values()) == [1] * WORKERS  # each worker process loaded its models, once
    # and this process none for that stage: every batch ran on the cluster
    assert not any("stage-dask" in ident for ident in docscore._PROCESS_SCORER)
    assert (summary.n_files, summary.n_processed, summary.n_failed) == (DOCUMENTS + 1, DOCUMENTS + 1, 1)

    single = Settings.from_env(
        corpus=tmp_path / "corpus", warehouse=tmp_path / "single.duckdb", models="hashing"
    )
    staging.run(single, tmp_path / "stage-single", batch_size=4)
    rows = staging.published_rows(tmp_path / "dask.duckdb")
    assert staging.differences(rows, staging.published_rows(single.warehouse)) == []
    assert len(rows["coverage"]) == DOCUMENTS * 65
    statuses = dict(zip(rows["documents"]["file_name"], rows["documents"]["status"], strict=True))
    assert statuses.pop("broken.pdf") == "corrupt" and set(statuses.values()) == {"ok"}


def test_local_workers_keep_memory_flat_and_others_are_told():
    """Dask's profiler and its long developer logs hold memory per batch: the flow's own
    cluster turns them off or short, and a worker of another cluster that keeps them is named
    with its settings (``worker_advice``)."""
    import dask.config
    from distributed import Client, LocalCluster
    from flows.scale_flow import LOW_LEVEL_LOG_LENGTH, SYSTEM_MONITOR_SAMPLES, task_runner, worker_advice

    keys = (
        "distributed.worker.profile.enabled",
        "distributed.admin.low-level-log-length",
        "distributed.admin.system-monitor.log-length",
        "distributed.worker.memory.target",
        "distributed.comm.timeouts.connect",
    )

    def settings() -> tuple[object, ...]:
        return tuple(dask.config.get(key) for key in keys)

    def logs(dask_worker) -> tuple[object, ...]:
        return (
            "profile" in dask_worker.periodic_callbacks,
            dask_worker.state.stimulus_log.maxlen,
            dask_worker.batched_stream.recent_message_log.maxlen,
        )

    with dask.config.set({keys[1]: 1000, keys[2]: 7200}):  # Dask's defaults, whatever ran before
        runner = task_runner(1)
        # this process (client, local scheduler) keeps short logs too
        assert dask.config.get(keys[1]) == LOW_LEVEL_LOG_LENGTH
        with LocalCluster(**runner.cluster_kwargs) as cluster, Client(cluster) as client:
            assert client.submit(worker_advice, pure=False).result() is None
            assert list(client.run(logs).values()) == [(False, LOW_LEVEL_LOG_LENGTH, LOW_LEVEL_LOG_LENGTH)]
            assert cluster.scheduler.transition_log.maxlen == LOW_LEVEL_LOG_LENGTH
            # the keys named are overridden; the rest of the worker's configuration is Dask's own
            assert list(client.run(settings).values()) == [
                (False, LOW_LEVEL_LOG_LENGTH, SYSTEM_MONITOR_SAMPLES, *settings()[3:])
            ]
        with dask.config.set({keys[1]: 1000, keys[2]: 7200}):
            plain = {"n_workers": 1, "threads_per_worker": 1, "processes": True, "dashboard_address": ":0"}
            with LocalCluster(**plain) as cluster, Client(cluster) as client:
                address, holding = client.submit(worker_advice, pure=False).result()
                assert address == next(iter(client.scheduler_info()["workers"]))
                assert holding == (
                    "its profiler on, distributed.admin.low-level-log-length=1000, "
                    "distributed.admin.system-monitor.log-length=7200"
                )
                assert list(client.run(logs).values()) == [(True, 1000, 1000)]
    assert worker_advice() is None  # this process is no Dask worker


def test_the_advised_environment_gives_a_worker_the_flow_settings():
    """``WORKER_ENVIRONMENT``, which the warning prints, sets every key of ``WORKER_CONFIG``."""
    import copy

    import dask.config
    from flows.scale_flow import WORKER_CONFIG, WORKER_ENVIRONMENT

    assert set(WORKER_ENVIRONMENT) == {
        "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED",
        "DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH",
        "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__LOG_LENGTH",
    }
    configured = dask.config.update(
        copy.deepcopy(dask.config.config), dask.config.collect_env(WORKER_ENVIRONMENT)
    )
    assert {key: dask.config.get(key, config=configured) for key in WORKER_CONFIG} == WORKER_CONFIG

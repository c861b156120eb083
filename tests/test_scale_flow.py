"""The scale flow on a local Dask cluster of two worker processes gives, bit for bit, the
warehouse a single process gives."""

from __future__ import annotations

import pytest

from compare import docscore, staging, synthetic
from compare.errors import CompareError
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


def test_local_workers_run_without_the_profiler_and_others_are_told():
    """Dask's profiler holds memory per second of work: the flow's own cluster turns it off,
    and a worker of another cluster that runs it is named (``worker_profiling``)."""
    import dask.config
    from distributed import Client, LocalCluster
    from flows.scale_flow import task_runner, worker_profiling

    def settings() -> tuple[bool, float, str]:
        get = dask.config.get
        return (
            get("distributed.worker.profile.enabled"),
            get("distributed.worker.memory.target"),
            get("distributed.comm.timeouts.connect"),
        )

    runner = task_runner(1)
    with LocalCluster(**runner.cluster_kwargs) as cluster, Client(cluster) as client:
        assert client.submit(worker_profiling, pure=False).result() is None
        assert list(client.run(lambda dask_worker: "profile" in dask_worker.periodic_callbacks).values()) == [
            False
        ]
        # one key is overridden; the rest of the worker's configuration is Dask's own
        assert list(client.run(settings).values()) == [(False, *settings()[1:])]
    plain = {"n_workers": 1, "threads_per_worker": 1, "processes": True, "dashboard_address": ":0"}
    with LocalCluster(**plain) as cluster, Client(cluster) as client:
        assert client.submit(worker_profiling, pure=False).result() == next(
            iter(client.scheduler_info()["workers"])
        )
        assert list(client.run(lambda dask_worker: "profile" in dask_worker.periodic_callbacks).values()) == [
            True
        ]
    assert worker_profiling() is None  # this process is no Dask worker

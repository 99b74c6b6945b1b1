"""Runs on a Ray cluster (fmlab.cluster), against a real local Ray instance this module starts.

Two `Runner`s stand for two app replicas; at the end, two real app servers share the cluster and a
student on each runs the class's preset: the cluster computes it once.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fmlab import classroom, registry
from fmlab.jobs import Runner, State
from fmlab.workers import WORKER_DIED

# Token authentication, as a real cluster would have it. Ray reads these once, when it is imported.
RAY_ENV = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16), "RAY_USAGE_STATS_ENABLED": "0"}
if "ray" in sys.modules:
    pytest.skip("ray was imported before this module could set its authentication", allow_module_level=True)
os.environ.update(RAY_ENV)
ray = pytest.importorskip("ray")
from fmlab.cluster import Cluster, ClusterUnreachable, check_reachable, run_key  # noqa: E402


def wait_until(check, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def ray_env():
    """A one-node Ray cluster with token authentication (2 CPUs), started for this module; yields the env to join it."""
    port = classroom.free_port()
    ray_cli = Path(sys.executable).parent / "ray"
    temp = tempfile.mkdtemp(prefix="fmlab-ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    ports = ["--dashboard-agent-listen-port", str(classroom.free_port())]  # not Ray's default: another cluster may run
    head = subprocess.Popen([str(ray_cli), "start", "--head", "--block", "--num-cpus", "2", "--port", str(port),
                             "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", temp, *ports],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        address = f"127.0.0.1:{port}"
        assert wait_until(lambda: reachable(address), 60), "ray did not start"
        yield {**RAY_ENV, "FMLAB_RAY_ADDRESS": address}
    finally:
        if ray.is_initialized():
            ray.shutdown()
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


def reachable(address: str) -> bool:
    try:
        check_reachable(address, timeout=1)
    except ClusterUnreachable:
        return False
    return True


@pytest.fixture(scope="module")
def cluster(ray_env):
    return Cluster.connect(ray_env["FMLAB_RAY_ADDRESS"])


def optimizers(**changes):
    demo = registry.get("optimizers")
    return demo, demo.config(**{**demo.smoke, **changes})


def test_two_replicas_share_one_run_and_see_its_progress(cluster):
    demo, cfg = optimizers(seed=11)
    replicas = [Runner(execute=cluster.execute), Runner(execute=cluster.execute)]
    jobs = [replica.submit(demo, cfg) for replica in replicas]
    for job in jobs:
        assert job.wait(180)
    assert [job.state for job in jobs] == [State.DONE, State.DONE]
    assert jobs[0].result.metrics == jobs[1].result.metrics
    assert any(e.kind == "step" for e in jobs[0].events())  # progress streamed back from the task
    assert jobs[0].result.charts[0].plot("zh") is not None  # charts arrive drawn, in both languages
    assert cluster.stats()["computed"][run_key(demo.id, cfg)] == 1
    late = Runner(execute=cluster.execute).submit(demo, cfg)  # a third replica, after the run: the cluster's cache
    assert late.wait(60) and late.result.metrics == jobs[0].result.metrics
    assert cluster.stats()["computed"][run_key(demo.id, cfg)] == 1


def test_the_same_result_as_a_local_run(cluster):
    demo, cfg = optimizers(seed=12)
    job = Runner(execute=cluster.execute).submit(demo, cfg)
    assert job.wait(180) and job.state is State.DONE
    assert job.result.metrics == demo.run(cfg).metrics  # deterministic by seed, wherever it trains


def in_flight_pid(cluster, key: str) -> int:
    assert wait_until(lambda: cluster.stats()["in_flight"].get(key) is not None, 120)
    return cluster.stats()["in_flight"][key]


def test_stop_cancels_the_task_once_no_replica_wants_it(cluster):
    import psutil

    demo, cfg = optimizers(seed=13, epochs=40)  # long enough to be stopped midway
    replicas = [Runner(execute=cluster.execute), Runner(execute=cluster.execute)]
    jobs = [replica.submit(demo, cfg) for replica in replicas]
    assert jobs[0].wait_for_first_step(120)
    key = run_key(demo.id, cfg)
    worker = psutil.Process(in_flight_pid(cluster, key))
    jobs[0].cancel()
    time.sleep(1.0)
    assert key in cluster.stats()["in_flight"]  # the other replica still wants it
    jobs[1].cancel()
    assert wait_until(lambda: key not in cluster.stats()["in_flight"], 30)
    time.sleep(1.0)  # the task stops at its next report
    before = sum(worker.cpu_times()[:2])
    time.sleep(1.0)
    assert sum(worker.cpu_times()[:2]) - before < 0.3  # the worker stopped training
    assert key not in cluster.stats()["cached"]


def test_a_killed_ray_worker_becomes_the_bilingual_message(cluster):
    demo, cfg = optimizers(seed=14, epochs=40)
    job = Runner(execute=cluster.execute).submit(demo, cfg)
    assert job.wait_for_first_step(120)
    os.kill(in_flight_pid(cluster, run_key(demo.id, cfg)), signal.SIGKILL)
    assert job.wait(60)
    assert job.state is State.FAILED and job.error == WORKER_DIED
    again = Runner(execute=cluster.execute).submit(demo, demo.config(**{**demo.smoke, "seed": 14}))
    assert again.wait(180) and again.state is State.DONE  # the cluster started another worker


def test_runs_that_a_gpu_speeds_up_get_a_share_of_one_when_the_cluster_has_gpus():
    demos = registry.demos()
    assert demos["grad-cam"].gpu and not demos["optimizers"].gpu  # declared by each demo
    with_gpu, without = Cluster(None, cpus=4, gpus=1.0), Cluster(None, cpus=4, gpus=0.0)
    assert with_gpu.options(demos["grad-cam"]) == {"num_cpus": 1, "num_gpus": 0.25}
    assert with_gpu.options(demos["optimizers"])["num_gpus"] == 0
    assert without.options(demos["grad-cam"])["num_gpus"] == 0


def test_an_unreachable_cluster_says_so_in_both_languages_and_fast():
    started = time.monotonic()
    with pytest.raises(ClusterUnreachable) as caught:
        check_reachable(f"127.0.0.1:{classroom.free_port()}")
    assert time.monotonic() - started < 5
    assert "FMLAB_RAY_ADDRESS" in caught.value.text.en and "FMLAB_RAY_ADDRESS" in caught.value.text.zh


def test_a_server_with_a_wrong_address_stops_at_start_with_the_message():
    env = {**os.environ, "FMLAB_RAY_ADDRESS": f"127.0.0.1:{classroom.free_port()}"}
    done = subprocess.run([sys.executable, "-m", "ui.serve", *classroom.server_options(classroom.free_port())],
                          cwd=classroom.ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "could not reach the Ray cluster" in done.stderr and "无法连接 Ray 集群" in done.stderr


# ---- two real app servers, one cluster ---------------------------------------------------------------


def test_two_app_servers_compute_the_class_preset_once(ray_env, cluster, browser, tmp_path):
    logs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    students = [classroom.Student(seed=None), classroom.Student(seed=None)]  # both on the question's preset
    with classroom.server(True, logs[0], env=ray_env) as (a, _pa), classroom.server(True, logs[1], env=ray_env) as (b, _pb):
        pages = [classroom.open_class(browser, base, [student], 120_000)[0] for base, student in zip((a, b), students)]
        classroom.press_run(pages, students)
        classroom.collect(pages, students, timeout=300)
        texts = [page.locator(classroom.VERDICT).all_inner_texts() for page in pages]
        assert "Ray @" in pages[0].locator('[data-testid="stSidebar"]').inner_text()
        for page in pages:
            page.context.close()
    assert [s.error for s in students] == [None, None]
    assert all(s.verdict is not None for s in students), texts
    assert texts[0] == texts[1]
    started = [[e for e in classroom.logged_runs(log) if e["event"] == "started"] for log in logs]
    assert [len(s) for s in started] == [1, 1]  # each replica asked the cluster once...
    key = f"optimizers:{started[0][0]['config']}"  # the run log writes repr(cfg), as run_key does
    assert started[1][0]["config"] == started[0][0]["config"]
    assert cluster.stats()["computed"][key] == 1  # ...and the cluster trained it once

"""[distribute]: data-parallel training on each backend's own engine gives the single-device weights.

Logical devices and multi-worker runtimes must be set up before a backend starts, so every
training check runs tests/distribute_worker.py in fresh processes (started together, once per
module, to share the 2 cores): TensorFlow MirroredStrategy and JAX keras.distribution.DataParallel
over 2 logical CPU devices; 2 processes on localhost: TensorFlow MultiWorkerMirroredStrategy
(TF_CONFIG) and JAX DataParallel after keras.distribution.initialize (KERAS_DISTRIBUTION_*).
Each trains the same models with the same global batch (8; 45 examples, so the last batch of
each epoch, 5, does not split evenly) for 2 epochs from the same seed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from mgc.config import load_config
from mgc.errors import UserError

WORKER = ROOT / "tests" / "distribute_worker.py"
TIMEOUT = 300
MODELS = {"mlp": 1e-5, "small_cnn": 1e-4}  # model -> largest relative weight difference allowed


def _env(backend: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "XLA_FLAGS")}
    return {**env, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", **extra}


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Start every training process at once; ``runs(key)`` waits for one and loads its weights."""
    tmp = tmp_path_factory.mktemp("distribute")
    jobs = {}

    def start(key, backend, *args, **env):
        out, log = tmp / f"{key}.npz", tmp / f"{key}.log"
        command = [sys.executable, str(WORKER), str(out), *args]
        with open(log, "w") as fh:  # a file, not a pipe: a chatty process never blocks on a full pipe
            jobs[key] = (subprocess.Popen(command, env=_env(backend, **env), stdout=fh, stderr=subprocess.STDOUT), out)

    models = ("--models", ",".join(MODELS))
    start("tensorflow", "tensorflow", "--strategy", "data_parallel", "--cpu-devices", "2", "--reference", *models)
    start("jax", "jax", "--strategy", "data_parallel", "--cpu-devices", "2", "--reference", *models)
    *workers, coordinator = [f"localhost:{port}" for port in _free_ports(3)]
    for index in range(2):  # one CPU replica each; the single-device references are the runs above
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        start(f"tensorflow_multi_worker_{index}", "tensorflow", "--strategy", "multi_worker", *models,
              TF_CONFIG=tf_config)
        start(f"jax_multi_worker_{index}", "jax", "--strategy", "multi_worker", *models,
              KERAS_DISTRIBUTION_JOB_ADDRESSES=coordinator, KERAS_DISTRIBUTION_NUM_PROCESSES="2",
              KERAS_DISTRIBUTION_PROCESS_ID=str(index))

    def result(key):
        process, out = jobs[key]
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.returncode == 0, f"{key} failed:\n{(tmp / f'{key}.log').read_text()[-4000:]}"
        with np.load(out) as z:
            return {k: z[k] for k in z.files}

    yield result
    for process, _ in jobs.values():
        if process.poll() is None:
            process.kill()
            process.wait()


def _weights(arrays: dict, model: str, kind: str) -> dict[str, np.ndarray]:
    paths = [str(p) for p in arrays[f"{model}/paths/0"]]
    return {path: arrays[f"{model}/{kind}/{i}"] for i, path in enumerate(paths)}


def _relative_differences(single: dict, distributed: dict) -> dict[str, float]:
    """Largest difference of each weight relative to that weight's largest magnitude."""
    assert single.keys() == distributed.keys()
    return {path: float(np.max(np.abs(single[path] - distributed[path])) / max(np.max(np.abs(single[path])), 1e-6))
            for path in single}


def _determined(path: str) -> bool:
    """Weights the loss determines. A convolution's bias feeding batch normalisation is cancelled
    by it (zero gradient: Adam scales float noise into steps of any size, on one device too),
    and the moving mean follows that bias; every other weight must match."""
    layer, _, weight = path.rpartition("/")
    return not (weight == "bias" and layer.rpartition("/")[2].startswith("conv")) and weight != "moving_mean"


def _check_same_weights(reference: dict, arrays: dict, label: str) -> None:
    """Every determined weight within the tolerance; prints the largest difference (``pytest -s``:
    the table in docs/scaling.md)."""
    for model, tolerance in MODELS.items():
        assert int(arrays[f"{model}/replicas/0"]) == 2
        single, distributed = _weights(reference, model, "single"), _weights(arrays, model, "distributed")
        determined = [p for p in single if _determined(p)]
        assert len(determined) >= 6
        differences = _relative_differences({p: single[p] for p in determined}, {p: distributed[p] for p in determined})
        print(f"{label} {model}: largest relative weight difference {max(differences.values()):.1e}")
        assert max(differences.values()) < tolerance, (model, differences)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_data_parallel_on_two_cpu_devices_matches_one_device(runs, backend):
    arrays = runs(backend)
    _check_same_weights(arrays, arrays, f"{backend} data_parallel, 2 logical CPUs")


@pytest.mark.slow
@pytest.mark.parametrize("index", [0, 1])
def test_tensorflow_multi_worker_mirrored_on_two_local_processes_matches_one_device(runs, index):
    _check_same_weights(runs("tensorflow"), runs(f"tensorflow_multi_worker_{index}"),
                        f"tensorflow multi_worker, process {index} of 2")


@pytest.mark.slow
@pytest.mark.parametrize("index", [0, 1])
def test_jax_data_parallel_over_two_local_processes_matches_one_device(runs, index):
    _check_same_weights(runs("jax"), runs(f"jax_multi_worker_{index}"), f"jax multi_worker, process {index} of 2")


# ---------------------------------------------------------------- in this process (TF backend)


def test_uneven_batches_are_repeated_per_replica_with_weights():
    import tensorflow as tf

    from mgc.training.distribute import Replicas

    x = {"features": np.arange(14, dtype="float32").reshape(7, 2)}
    ds = tf.data.Dataset.from_tensor_slices((x, np.arange(7, dtype="int32"))).batch(4)  # 4, then 3
    full, last = list(Replicas("data_parallel", 2).data(ds))
    assert full[1].numpy().tolist() == [0, 1, 2, 3] and full[2].numpy().tolist() == [1, 1, 1, 1]
    assert last[1].numpy().tolist() == [4, 5, 6, 4, 5, 6]  # one whole copy per replica
    assert last[2].numpy().tolist() == [0.5] * 6
    assert last[0]["features"].shape == (6, 2)
    # JAX multi-process: each process feeds its part of the (evened) global batch.
    parts = [[b[1].numpy().tolist() for b in Replicas("multi_worker", 2, 2, i).data(ds)] for i in range(2)]
    assert parts == [[[0, 1], [4, 5, 6]], [[2, 3], [4, 5, 6]]]
    assert list(Replicas().data(ds))[1][1].numpy().tolist() == [4, 5, 6]  # no strategy: unchanged


def test_no_strategy_changes_nothing():
    from mgc.training.distribute import distribution

    with distribution(load_config(None)) as replicas:
        assert not replicas.active and replicas.replicas == 1
        make = lambda *a: "data"  # noqa: E731
        assert replicas.wrap_data(make) is make


def test_multi_worker_without_tf_config_is_a_user_error(monkeypatch):
    from mgc.training.distribute import setup

    config = load_config(None, {"distribute.strategy": "multi_worker"})
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(UserError, match="needs TF_CONFIG"):
        setup(config)
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {}}')
    with pytest.raises(UserError, match="TF_CONFIG must be JSON with cluster.worker"):
        setup(config)


def test_cpu_devices_after_tensorflow_started_is_a_user_error():
    import tensorflow as tf

    from mgc.training.distribute import setup

    tf.constant(1.0) + 1  # TensorFlow has started in this process
    have = len(tf.config.list_logical_devices("CPU"))
    with pytest.raises(UserError, match="already started"):
        setup(load_config(None, {"distribute.cpu_devices": have + 1}))


def test_torch_backend_refuses_a_strategy_in_one_line():
    command = [sys.executable, "-m", "mgc.pipelines", "train", str(ROOT / "pipelines/smoke.toml"),
               "--set", "distribute.strategy=data_parallel", "--workdir", "/nonexistent/mgc"]
    done = subprocess.run(command, env=_env("torch"), capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: [distribute] strategy = 'data_parallel' needs the TensorFlow or JAX backend (Keras has no "
        "distribution for torch); set KERAS_BACKEND=tensorflow or jax"]

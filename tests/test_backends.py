"""TensorFlow, JAX and PyTorch backends, each in its own process (Keras fixes the backend at import).

Per backend: the model-builder and training-recipe suites (``tests/backends/``), the smoke pipeline
end to end (under JAX and PyTorch its light variant, conftest.LIGHT) with its SavedModel exports
checked against the backend's own test predictions, and ``.keras`` files written under every other
backend loading with the same predictions.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from conftest import LIGHT, LIGHT_MODELS, MUSIC, REAL_AUDIO, ROOT
from mgc.config import load_config, parse_override

# End to end: a pytest suite and the smoke pipeline per backend, each in a process of its own.
pytestmark = pytest.mark.slow

BACKENDS = ("tensorflow", "jax", "torch")
MODELS = ["cnn", "small_cnn", "mlp", "logit_fusion", "feature_fusion", "attention_fusion", "joint"]  # smoke.toml's
SUITE = ROOT / "tests" / "backends"


def needs(backend: str) -> None:
    """The optional backends come with ``pip install -e ".[dev]"`` (extras [jax], [torch])."""
    if importlib.util.find_spec(backend) is None:  # the backends' names are their modules' names
        pytest.skip(f"{backend} is not installed (pip install -e \".[{backend}]\")")


def in_process(backend: str, command: list[str], **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "KERAS_BACKEND": backend, "MGC_BACKEND_SUITE": "1", **env}
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=1500)


def passed(done: subprocess.CompletedProcess) -> str:
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    return output


@pytest.fixture(scope="module")
def suites(tmp_path_factory):
    """Runs the builder suite under a backend once; ``suites(b)`` returns the shared output dir."""
    out = Path(os.environ.get("MGC_BACKEND_OUT") or tmp_path_factory.mktemp("backends"))  # set it to keep them
    ran = {}

    def run(backend: str) -> Path:
        needs(backend)
        if backend not in ran:
            ran[backend] = in_process(backend, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                                str(SUITE / "test_any_backend.py"),
                                                str(SUITE / "test_recipe_backend.py")], MGC_BACKEND_OUT=str(out))
        passed(ran[backend])
        return out

    return run


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_model_builds_trains_evaluates_saves_and_reloads(backend, suites):
    out = suites(backend)
    assert sorted(p.stem for p in (out / backend).glob("*.keras")) == sorted(
        ["cnn", "small_cnn", "mlp", "musicnn_probe", "joint", "logit_fusion", "feature_fusion", "attention_fusion",
         "feature_fusion3", "attention_fusion3"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_keras_files_from_every_other_backend_load_with_the_same_predictions(backend, suites):
    sources = []
    for other in BACKENDS:
        if importlib.util.find_spec(other) is not None:
            out = suites(other)
            sources.append(other)
    needs(backend)
    others = [b for b in sources if b != backend]
    assert others, "no other backend installed to load from"
    done = in_process(backend, [sys.executable, str(SUITE / "check_loads.py"), str(out), ",".join(others)])
    passed(done)
    checked = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(checked) == sorted(others) and all(len(models) == 10 for models in checked.values())
    assert max(d for models in checked.values() for d in models.values()) <= 1e-4


def _smoke(backend: str, smoke_run, tmp_path_factory) -> tuple[Path, str, list[str], dict]:
    """The smoke job's workdir, output, models and config overrides under ``backend``: TensorFlow's
    is the session's full run; JAX and PyTorch run the light job (every kind of model, EfficientNet-B0
    left to the builder suite above, where it trains, saves and reloads under each backend)."""
    if backend == "tensorflow":
        return smoke_run, "", MODELS, {}
    needs(backend)
    workdir = tmp_path_factory.mktemp(f"smoke_{backend}")
    output = passed(in_process(backend, [sys.executable, "-m", "mgc.pipelines", "run", "pipelines/smoke.toml",
                                         "--workdir", str(workdir), "--quiet", *LIGHT]))
    return workdir, output, LIGHT_MODELS, dict(parse_override(part) for part in LIGHT[1::2])


@pytest.mark.parametrize("backend", BACKENDS)
def test_smoke_pipeline_and_export(backend, smoke_run, tmp_path_factory):
    workdir, output, models, overrides = _smoke(backend, smoke_run, tmp_path_factory)
    summary = json.loads((workdir / "results" / "summary.json").read_text())
    assert sorted(summary["models"]) == sorted(models)
    if backend == "torch":  # PyTorch cannot write SavedModels: the saved .keras files go through TensorFlow
        assert "exporting the saved .keras models in a TensorFlow-backend process" in output

    from mgc.input import make_dataset
    from mgc.training.experiment import Experiment

    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(workdir), **overrides})
    exp = Experiment(config, progress=False)
    tracks = exp.split("test")
    x, _ = next(iter(make_dataset(config, tracks, exp.classes, batch_size=len(tracks), include_track_id=True)))
    ids = x["track_id"].numpy().astype(str)
    for name in models:
        table = pd.read_csv(exp.model_dir(name) / "test_predictions.csv", dtype={"track_id": str})
        expected = table.set_index("track_id").loc[ids, [f"p_{g}" for g in exp.classes]].to_numpy()
        signature = tf.saved_model.load(str(config.export_dir / name / "1")).signatures["serving_default"]
        args = {k: tf.cast(x[k], tf.float32) for k in signature.structured_input_signature[1]}
        # The export (written here under TensorFlow or JAX, or from PyTorch's saved file) answers like
        # the backend's own model did in the evaluate stage.
        np.testing.assert_allclose(signature(**args)["probabilities"].numpy(), expected, atol=1e-4,
                                   err_msg=f"{backend} {name}")


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_predict_with_a_checkpoint_under_the_backend_matches_the_export(backend, smoke_run, tmp_path):
    """``predict --model <run>/models/joint`` runs the ``.keras`` file in the backend's own process;
    its probabilities equal the TensorFlow export's on real recordings."""
    needs(backend)
    clips = [str(REAL_AUDIO / name) for name in MUSIC[:2]]
    tables = {}
    for label, model in (("checkpoint", smoke_run / "models" / "joint"),
                         ("export", smoke_run / "saved_models" / "joint")):
        out = tmp_path / f"{label}.csv"
        passed(in_process(backend, [sys.executable, "-m", "mgc.pipelines", "predict", "--model", str(model), *clips,
                                    "--output", str(out), "--quiet", "--workers", "1"]))
        tables[label] = pd.read_csv(out).set_index("path")
    assert (tables["checkpoint"]["status"] == "ok").all() and len(tables["checkpoint"]) == 2
    columns = [c for c in tables["export"] if c.startswith("p_")]
    np.testing.assert_allclose(tables["checkpoint"].loc[clips, columns].to_numpy(),
                               tables["export"].loc[clips, columns].to_numpy(), atol=1e-4)

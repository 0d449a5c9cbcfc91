"""The same config and seed on the same machine give byte-identical results, with any --workers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT

RESULT_FILES = ("results/summary.json", "results/comparison.csv")


@pytest.mark.slow
def test_two_smoke_runs_give_identical_result_files(smoke_run, tmp_path):
    """A second run of the smoke job (in its own process, one extraction worker instead of two)
    writes the same summary.json, comparison.csv and test_predictions.csv, byte for byte."""
    again = tmp_path / "again"
    done = subprocess.run([sys.executable, "-m", "mgc.pipelines", "run", "smoke", "--workdir", str(again),
                           "--workers", "1", "--quiet"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    predictions = sorted(p.relative_to(smoke_run).as_posix() for p in smoke_run.glob("models/*/test_predictions.csv"))
    assert len(predictions) == 6  # every model of the smoke run
    for name in (*RESULT_FILES, *predictions):
        assert (again / name).read_bytes() == (smoke_run / name).read_bytes(), f"{name} differs between runs"
    assert (again / "features.csv").read_bytes() == (smoke_run / "features.csv").read_bytes()


def test_determinism_is_on_by_default_and_can_be_turned_off():
    from mgc.config import load_config

    assert load_config(ROOT / "pipelines" / "smoke.toml").run.deterministic is True
    assert load_config(ROOT / "pipelines" / "smoke.toml", {"run.deterministic": False}).run.deterministic is False

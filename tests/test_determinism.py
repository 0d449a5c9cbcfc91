"""The same config and seed on the same machine give byte-identical results, with any --workers."""

from __future__ import annotations

import pytest

from conftest import LIGHT, LIGHT_MODELS, ROOT, run_smoke

RESULT_FILES = ("results/summary.json", "results/comparison.csv")


@pytest.mark.slow
def test_two_smoke_runs_give_identical_result_files(light_run, tmp_path):
    """A second run of the (light) smoke job, in its own process and with one extraction worker
    instead of two, writes the same features, summary.json, comparison.csv and every model's
    test_predictions.csv, byte for byte."""
    again = tmp_path / "again"
    run_smoke(again, *LIGHT, "--workers", "1", cwd=tmp_path)
    predictions = sorted(p.relative_to(light_run).as_posix() for p in light_run.glob("models/*/test_predictions.csv"))
    assert len(predictions) == len(LIGHT_MODELS)  # every model of the run
    for name in (*RESULT_FILES, *predictions, "features.csv"):
        assert (again / name).read_bytes() == (light_run / name).read_bytes(), f"{name} differs between runs"


def test_determinism_is_on_by_default_and_can_be_turned_off():
    from mgc.config import load_config

    assert load_config(ROOT / "pipelines" / "smoke.toml").run.deterministic is True
    assert load_config(ROOT / "pipelines" / "smoke.toml", {"run.deterministic": False}).run.deterministic is False

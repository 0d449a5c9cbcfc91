"""``[run] repeats`` / ``--repeats N``: the model stages again with seeds seed+1, ... on the same
split and cache, and a report with mean ± std across the seeds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import LIGHT, LIGHT_MODELS, ROOT, run_smoke


@pytest.mark.slow
def test_repeats_train_every_model_per_seed_and_report_mean_and_std(light_run, tmp_path):
    import shutil

    workdir = tmp_path / "repeats"  # the finished light run, resumed with a second seed: only seed 1 trains
    shutil.copytree(light_run, workdir, symlinks=True)
    output = run_smoke(workdir, *LIGHT, "--repeats", "2", cwd=tmp_path)
    # The run's own seed is untouched by its repeats: its models' files are not rewritten.
    for path in sorted(light_run.glob("models/*/test_predictions.csv")):
        name = path.relative_to(light_run)
        assert (workdir / name).read_bytes() == path.read_bytes(), name
    # Seed 1 trained every model again, on the same split and cache (one manifest, one cache).
    repeat = workdir / "repeats" / "seed-1"
    trained = sorted(p.parent.name for p in (workdir / "models").glob("*/model.keras"))
    assert trained == sorted(LIGHT_MODELS)
    assert sorted(p.parent.name for p in (repeat / "models").glob("*/model.keras")) == trained
    assert not (repeat / "manifest.csv").exists() and not (repeat / "cache").exists()
    first = pd.read_csv(workdir / "models" / "small_cnn" / "test_predictions.csv")
    second = pd.read_csv(repeat / "models" / "small_cnn" / "test_predictions.csv")
    assert first["track_id"].tolist() == second["track_id"].tolist()  # the same test tracks
    assert not np.allclose(first["confidence"], second["confidence"])  # another seed, another model
    # The run's report: per-seed numbers and their mean ± std.
    summary = json.loads((workdir / "results" / "summary.json").read_text())
    seed1 = json.loads((repeat / "results" / "summary.json").read_text())
    assert summary["repeats"]["seeds"] == [0, 1] and "repeats" not in seed1
    for name, entry in summary["repeats"]["models"].items():
        values = [summary["models"][name]["test_accuracy"], seed1["models"][name]["test_accuracy"]]
        assert entry["test_accuracy"] == values
        assert entry["test_accuracy_mean"] == pytest.approx(np.mean(values))
        assert entry["test_accuracy_std"] == pytest.approx(np.std(values, ddof=1))
    table = pd.read_csv(workdir / "results" / "repeats.csv")
    assert list(table["model"]) == list(summary["models"])
    assert "## Across 2 seeds (0, 1)" in (workdir / "results" / "comparison.md").read_text()
    assert "[seed 1] " in output  # the repeats' lines say which seed they belong to
    # Exports are the run's own seed only.
    assert not list(repeat.glob("**/saved_model.pb"))


def test_repeats_are_checked_when_the_config_loads():
    from mgc.config import load_config
    from mgc.errors import UserError

    assert load_config(ROOT / "pipelines" / "smoke.toml").run.repeats == 1
    with pytest.raises(UserError, match="repeats must be >= 1"):
        load_config(ROOT / "pipelines" / "smoke.toml", {"run.repeats": 0})
    with pytest.raises(UserError, match="below 2\\*\\*32"):
        load_config(ROOT / "pipelines" / "smoke.toml", {"run.seed": 2**32 - 1, "run.repeats": 2})

"""External feature tables: Kaggle GTZAN's features_30_sec.csv and FMA's published features.csv."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from fixtures import write_gtzan, write_gtzan_features_csv
from mgc.config import load_config
from mgc.datasets.manifest import read_manifest
from mgc.errors import UserError
from mgc.input import FeatureScaler, class_names, feature_view, make_dataset
from mgc.pipelines.cli import main


def collect(ds):
    ids, feats = [], []
    for x, _ in ds:
        ids += [t.decode() for t in x["track_id"].numpy()]
        feats.append(x["features"].numpy())
    return ids, np.concatenate(feats)


def test_gtzan_with_kaggle_features_csv(tmp_path):
    paths = write_gtzan(tmp_path / "genres_original", genres=("blues", "classical", "metal"), per_genre=10,
                        ext="wav", seconds=2.0)
    ids = sorted(p.stem for p in paths)
    csv = write_gtzan_features_csv(tmp_path / "features_30_sec.csv", ids)
    overrides = ["--workdir", str(tmp_path / "run"), "--set", f"dataset.root='{tmp_path / 'genres_original'}'",
                 "--set", f"dataset.features_csv='{csv}'", "--set", "audio.duration=2.0",
                 "--set", "audio.min_duration=1.0", "--set", "extract.workers=1",
                 "--set", "split.method=stratified", "--quiet"]
    for stage in ("prepare", "extract"):
        assert main([stage, str(ROOT / "pipelines/gtzan.toml"), *overrides]) == 0
    config = load_config(ROOT / "pipelines/gtzan.toml", {"run.workdir": str(tmp_path / "run"),
                         "dataset.features_csv": str(csv), "audio.duration": 2.0,
                         "audio.min_duration": 1.0, "split.method": "stratified"})
    kaggle = pd.read_csv(csv).set_index("filename")
    view = feature_view(config)
    assert view.shape == (30, 57) and list(view.columns) == list(kaggle.columns[1:-1])
    manifest = read_manifest(config)
    got_ids, got = collect(make_dataset(config, manifest, class_names(manifest), include_track_id=True))
    expected = kaggle.loc[[f"{t}.wav" for t in got_ids]].iloc[:, 1:-1].to_numpy(np.float32)
    np.testing.assert_array_equal(got, expected)
    stats = FeatureScaler.load(tmp_path / "run" / "feature_stats.json")
    train = manifest[manifest["split"] == "baseline_train"]["track_id"]
    np.testing.assert_allclose(stats.mean, kaggle.loc[[f"{t}.wav" for t in train]].iloc[:, 1:-1].mean(), rtol=1e-5)


@pytest.mark.slow
def test_fma_published_features_csv_replaces_computed_ones(tmp_path, smoke_run):
    published = pd.read_csv(smoke_run / "features.csv", index_col=0, header=[0, 1, 2])
    published = published.iloc[:, ::-1] * 2.0  # another column order and other values
    path = tmp_path / "features.csv"
    published.to_csv(path)
    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(smoke_run)})
    manifest = read_manifest(config)
    computed_ids, computed = collect(make_dataset(config, manifest, class_names(manifest), include_track_id=True))
    config_ext = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(smoke_run),
                             "dataset.features_csv": str(path)})
    ids, feats = collect(make_dataset(config_ext, manifest, class_names(manifest), include_track_id=True))
    assert ids == computed_ids
    np.testing.assert_allclose(feats, 2.0 * computed, rtol=1e-6)
    (smoke_run / "feature_view.npz").unlink()  # keep the shared smoke run as it was


@pytest.mark.slow
def test_missing_external_table_is_a_user_error(smoke_run):
    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(smoke_run),
                         "dataset.features_csv": "/no/such/features.csv"})
    with pytest.raises(UserError, match="features_csv not found"):
        feature_view(config)

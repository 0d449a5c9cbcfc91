"""tf.data builders: shapes, labels, split/fold selection, scaling fitted on training only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from conftest import ROOT
from mgc.audio import load_clip
from mgc.config import load_config
from mgc.datasets.manifest import read_manifest
from mgc.errors import UserError
from mgc.features import extract_views
from mgc.input import FeatureScaler, class_names, fit_scaler, make_dataset, spectrogram_shape
from mgc.splits import kfold

pytestmark = pytest.mark.slow  # every test reads the session's smoke run (conftest.smoke_run)


@pytest.fixture(scope="module")
def run(smoke_run):
    config = load_config(ROOT / "pipelines/smoke.toml", {"run.workdir": str(smoke_run)})
    manifest = read_manifest(config)
    return config, manifest, class_names(manifest)


def collect(ds):
    inputs, labels = {}, []
    for x, y in ds:
        for key, value in x.items():
            inputs.setdefault(key, []).append(value.numpy())
        labels.append(y.numpy())
    return {k: np.concatenate(v) for k, v in inputs.items()}, np.concatenate(labels)


def test_batches_have_both_views_and_right_labels(run):
    config, manifest, classes = run
    test = manifest[manifest["split"] == "test"]
    ds = make_dataset(config, test, classes, batch_size=4, include_track_id=True)
    first_x, first_y = next(iter(ds))
    assert first_x["spectrogram"].shape == (4, *spectrogram_shape(config)) == (4, 128, 173)
    assert first_x["spectrogram"].dtype.name == "float32" and first_x["features"].shape == (4, 518)
    assert first_y.dtype.name == "int32"
    x, y = collect(ds)
    ids = [t.decode() for t in x["track_id"]]
    assert sorted(ids) == sorted(test["track_id"])  # exactly the split, nothing else
    genre = dict(zip(manifest["track_id"], manifest["genre"]))
    assert [classes[label] for label in y] == [genre[t] for t in ids]


def test_cached_views_equal_a_fresh_extraction(run):
    config, manifest, classes = run
    row = manifest.iloc[0]
    x, _ = collect(make_dataset(config, manifest.iloc[[0]], classes, batch_size=1))
    y = load_clip(row["path"], sample_rate=config.audio.sample_rate, duration=config.audio.duration)
    with threadpool_limits(1):  # as extract computes (thread count changes float32 rounding)
        features, spectrogram = extract_views(y, config.audio.sample_rate, config.spectrogram)
    np.testing.assert_array_equal(x["features"][0], features)
    np.testing.assert_allclose(x["spectrogram"][0], spectrogram, atol=0.06)  # float16 storage, dB values


def test_features_only_path_matches_tfrecord_path(run):
    config, manifest, classes = run
    train = manifest[manifest["split"] == "baseline_train"]
    both, y_both = collect(make_dataset(config, train, classes, include_track_id=True))
    only, y_only = collect(make_dataset(config, train, classes, views=["features"], include_track_id=True))
    assert "spectrogram" not in only
    order_both, order_only = np.argsort(both["track_id"]), np.argsort(only["track_id"])
    np.testing.assert_array_equal(both["features"][order_both], only["features"][order_only])
    np.testing.assert_array_equal(y_both[order_both], y_only[order_only])


def test_scaler_uses_training_portion_only(run, tmp_path):
    config, manifest, classes = run
    train = manifest[manifest["split"] == "baseline_train"]
    features = pd.read_csv(config.workdir / "features.csv", index_col=0, header=[0, 1, 2])
    features.index = features.index.astype(str)
    scaler = fit_scaler(config, train, tmp_path / "stats.json")
    np.testing.assert_allclose(scaler.mean, features.loc[train["track_id"]].mean().to_numpy(), rtol=1e-5, atol=1e-5)
    assert not np.allclose(scaler.mean, features.mean().to_numpy(), rtol=1e-6)
    saved = FeatureScaler.load(config.workdir / "feature_stats.json")  # written by extract
    np.testing.assert_allclose(saved.mean, scaler.mean) and np.testing.assert_allclose(saved.scale, scaler.scale)
    x, _ = collect(make_dataset(config, train, classes, scaler=scaler, views=["features"]))
    np.testing.assert_allclose(x["features"].mean(axis=0), 0, atol=1e-3)
    x_tf, _ = collect(make_dataset(config, train, classes, scaler=scaler))
    np.testing.assert_allclose(np.sort(x_tf["features"], axis=0), np.sort(x["features"], axis=0), atol=1e-5)


def test_shuffle_is_seeded_and_folds_select_tracks(run):
    config, manifest, classes = run
    train = manifest[manifest["split"] == "baseline_train"]

    def order(seed):
        x, _ = collect(make_dataset(config, train, classes, shuffle=True, seed=seed, include_track_id=True))
        return list(x["track_id"])

    assert order(1) == order(1)
    assert sorted(order(1)) == sorted(order(2)) and order(1) != order(2)
    folds = kfold(train, n_splits=2, seed=0)
    seen = []
    for _fold_train, fold_val in folds:
        x, _ = collect(make_dataset(config, train.iloc[fold_val], classes, include_track_id=True))
        seen += [t.decode() for t in x["track_id"]]
    assert sorted(seen) == sorted(train["track_id"])


def test_uncached_tracks_are_a_user_error(run):
    config, manifest, classes = run
    ghost = pd.DataFrame({"track_id": ["nope"], "genre": [classes[0]]})
    with pytest.raises(UserError, match="run extract"):
        make_dataset(config, ghost, classes)

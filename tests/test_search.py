"""Grid search: one compiled model per combination, reset per fold, equals a fresh model per fold."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from mgc.models.layers import Standardize
from mgc.splits import kfold, validation_slice
from mgc.training.fit import fit, reset_like
from mgc.training.search import grid_search

SEED = 3


def _problem():
    rng = np.random.default_rng(0)
    tracks = pd.DataFrame({"track_id": [f"t{i:03d}" for i in range(60)], "genre": np.repeat(["a", "b", "c"], 20)})
    x = rng.normal(size=(60, 6)).astype("float32") + np.repeat(np.eye(3, 6), 20, axis=0).astype("float32")
    row = {t: i for i, t in enumerate(tracks["track_id"])}

    def make_data(subset, shuffle, batch_size):
        rows = np.array([row[t] for t in subset["track_id"]])
        labels = subset["genre"].map({"a": 0, "b": 1, "c": 2}).to_numpy("int32")
        ds = tf.data.Dataset.from_tensor_slices((x[rows], labels))
        return (ds.shuffle(len(rows), seed=SEED) if shuffle else ds).batch(batch_size)

    def make_model(params, fold_train):
        seen = x[[row[t] for t in fold_train["track_id"]]]
        norm = Standardize(seen.mean(0), seen.var(0))  # fold-dependent state, as in the MLP
        inputs = keras.Input((6,))
        hidden = keras.layers.Dense(params["width"], activation="relu")(norm(inputs))
        outputs = keras.layers.Dense(3)(keras.layers.Dropout(0.5)(hidden))  # seeded dropout state
        return keras.Model(inputs, outputs)

    return tracks, make_data, make_model


def test_fold_scores_equal_a_fresh_model_per_fold():
    tracks, make_data, make_model = _problem()
    base = {"learning_rate": 0.01, "batch_size": 8, "epochs": 4}
    table = grid_search({"width": [8]}, tracks, make_model=make_model, make_data=make_data, base_params=base,
                        folds=3, seed=SEED, patience=4, validation_fraction=0.2, progress=False)

    fresh_scores = []
    for train_pos, val_pos in kfold(tracks, 3, SEED, False):
        fold_train, fold_val = tracks.iloc[train_pos], tracks.iloc[val_pos]
        inner_train, inner_val = validation_slice(fold_train, 0.2, SEED)
        keras.utils.set_random_seed(SEED)
        model = make_model({**base, "width": 8}, fold_train)
        fit(model, make_data(inner_train, True, 8), make_data(inner_val, False, 8), learning_rate=0.01, epochs=4,
            patience=4)
        fresh_scores.append(model.evaluate(make_data(fold_val, False, 8), verbose=0, return_dict=True)["accuracy"])
    assert [table.loc[0, f"fold_{i}"] for i in (1, 2, 3)] == fresh_scores


def test_max_epochs_caps_every_fold_and_leaves_shorter_schedules_alone():
    tracks, make_data, make_model = _problem()
    grid = {"width": [8], "epochs": [2, 5]}
    base = {"learning_rate": 0.01, "batch_size": 8}
    table = grid_search(grid, tracks, make_model=make_model, make_data=make_data, base_params=base, folds=2, seed=SEED,
                        patience=10, validation_fraction=0.2, progress=False, max_epochs=3)
    assert dict(zip(table["epochs"], table["mean_epochs"])) == {2: 2.0, 5: 3.0}


def test_reset_like_then_fit_gives_the_fresh_models_weights_bit_for_bit():
    tracks, make_data, make_model = _problem()
    params = {"width": 8}

    def data():  # a new tf.data pipeline per fit: its shuffle order advances with each pass
        return make_data(tracks.iloc[:40], True, 8), make_data(tracks.iloc[40:], False, 8)

    keras.utils.set_random_seed(SEED)
    reused = make_model(params, tracks.iloc[40:])
    fit(reused, *data(), learning_rate=0.01, epochs=3, patience=3)  # optimizer state now non-zero

    keras.utils.set_random_seed(SEED)
    fresh = make_model(params, tracks.iloc[:40])
    reset_like(reused, fresh)
    fit(reused, *data(), learning_rate=0.01, epochs=3, patience=3, compile=False)
    fit(fresh, *data(), learning_rate=0.01, epochs=3, patience=3)
    for a, b in zip(reused.variables, fresh.variables, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))

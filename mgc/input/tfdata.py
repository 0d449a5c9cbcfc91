"""tf.data builders that stream the cache as ``({"spectrogram", "features"}, label)`` batches.

Any subset of tracks works — a split, a fold, a hand-picked list: only the shards holding those
tracks are read, the others are filtered out by id with a hash table, and spectrograms are
decoded from float16 after batching (one vectorised op per batch, in parallel).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from mgc.cache.records import feature_spec
from mgc.cache.store import ShardStore, cache_dir
from mgc.config import Config
from mgc.contract import FEATURES, SPECTROGRAM, VIEWS, ClipSpec
from mgc.errors import UserError
from mgc.features import N_FEATURES
from mgc.input.feature_view import feature_view
from mgc.input.scaling import FeatureScaler


def spectrogram_shape(config: Config) -> tuple[int, int]:
    """(n_mels, frames) of the cached log-mel for this config."""
    return ClipSpec.from_config(config).spectrogram_shape


def class_names(manifest: pd.DataFrame) -> list[str]:
    """The label vocabulary: sorted genre names (label i is ``class_names[i]``)."""
    return sorted(manifest["genre"].unique())


def make_dataset(
    config: Config,
    tracks: pd.DataFrame,
    classes: Sequence[str],
    *,
    batch_size: int | None = None,
    shuffle: bool = False,
    seed: int | None = None,
    scaler: FeatureScaler | None = None,
    views: Sequence[str] = VIEWS,
    include_track_id: bool = False,
    drop_remainder: bool = False,
):
    """Batches of ``tracks`` (columns track_id, genre) for this config's cache.

    Labels are indices into ``classes``. ``views`` picks the inputs: spectrograms stream from
    the TFRecord cache, features come from :func:`feature_view` (computed, or the external
    ``features_csv``), so feature-only datasets never touch the TFRecords. With
    ``include_track_id`` the inputs dict also carries ``track_id`` (for evaluation tables).
    Tracks without data (failed extraction, absent from the feature table) are skipped;
    asking only for such tracks is a UserError.
    """
    import tensorflow as tf

    views = tuple(views)
    if not views or any(v not in VIEWS for v in views):
        raise ValueError(f"views must be a non-empty subset of {VIEWS}, got {views}")
    batch_size = batch_size or config.input.batch_size
    seed = config.run.seed if seed is None else seed
    available = None
    if FEATURES in views:
        table = feature_view(config)
        available = set(table.index)
    if SPECTROGRAM in views:
        store = ShardStore(cache_dir(config), N_FEATURES)
        latest, _ = store.latest()
        latest = latest[latest["status"] == "ok"].drop_duplicates("track_id", keep="last").set_index("track_id")
        available = set(latest.index) if available is None else available & set(latest.index)
    wanted = tracks[tracks["track_id"].isin(available)]
    if wanted.empty:
        raise UserError(f"none of the {len(tracks)} requested tracks has extracted data; run extract")
    lookup = {name: i for i, name in enumerate(classes)}
    labels = wanted["genre"].map(lookup)
    if labels.isna().any():
        raise UserError(f"genre {wanted['genre'][labels.isna()].iloc[0]!r} is not one of the classes")
    labels = labels.to_numpy(dtype=np.int32)
    ids = wanted["track_id"].to_numpy(dtype=str)
    features = None
    if FEATURES in views:
        features = table.loc[ids].to_numpy(np.float32)
        features = features if scaler is None else scaler.transform(features)

    if views == (FEATURES,):
        inputs = {FEATURES: features}
        if include_track_id:
            inputs["track_id"] = ids
        ds = tf.data.Dataset.from_tensor_slices((inputs, labels))
        if shuffle:
            ds = ds.shuffle(len(ids), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)

    files = [str(store.directory / s) for s in sorted(set(latest.loc[ids, "shard"]))]
    position = tf.lookup.StaticHashTable(  # track id -> its row in ids/labels/features, else -1
        tf.lookup.KeyValueTensorInitializer(tf.constant(ids), tf.range(len(ids), dtype=tf.int32)), default_value=-1
    )
    label_of = tf.constant(labels)
    features_of = None if features is None else tf.constant(features)
    spec = feature_spec(N_FEATURES)
    parse_spec = {"track_id": spec["track_id"], "spectrogram": spec["spectrogram"]}
    shape = spectrogram_shape(config)

    def tag(serialized):
        track_id = tf.io.parse_single_example(serialized, {"track_id": spec["track_id"]})["track_id"]
        return serialized, position.lookup(track_id)

    def decode(serialized, rows):
        ex = tf.io.parse_example(serialized, parse_spec)
        spec16 = tf.io.decode_raw(ex["spectrogram"], tf.float16)
        inputs = {SPECTROGRAM: tf.reshape(tf.cast(spec16, tf.float32), (-1, *shape))}
        if features_of is not None:
            inputs[FEATURES] = tf.gather(features_of, rows)
        if include_track_id:
            inputs["track_id"] = ex["track_id"]
        return inputs, tf.gather(label_of, rows)

    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(4, len(files)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,  # a seeded shuffle must give the same order every run
    )
    ds = ds.map(tag, num_parallel_calls=tf.data.AUTOTUNE).filter(lambda s, row: row >= 0)
    if shuffle:
        ds = ds.shuffle(config.input.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    # The id filter hides the size from tf.data; Keras needs it for epochs and progress bars.
    n_batches = len(ids) // batch_size if drop_remainder else -(-len(ids) // batch_size)
    ds = ds.apply(tf.data.experimental.assert_cardinality(n_batches))
    return ds.prefetch(tf.data.AUTOTUNE)


def fit_scaler(config: Config, tracks: pd.DataFrame, path: str | Path | None = None) -> FeatureScaler:
    """Standardisation statistics of ``tracks``' features (:func:`feature_view`) (pass the training portion only);
    saved to ``path`` when given."""
    table = feature_view(config)
    ids = [t for t in tracks["track_id"] if t in table.index]
    if not ids:
        raise UserError("no features for the training tracks; run extract (or check [dataset] features_csv ids)")
    scaler = FeatureScaler.fit(table.loc[ids].to_numpy())
    if path is not None:
        scaler.save(path)
    return scaler

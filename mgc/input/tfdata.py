"""tf.data builders that stream the cache as ``({"spectrogram", "features", "pretrained"}, label)`` batches.

Any subset of tracks works — a split, a fold, a hand-picked list: only the shards holding those
tracks are read, the others are filtered out by id with a hash table, and spectrograms are
decoded from float16 after batching (one vectorised op per batch, in parallel).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from mgc.cache.records import feature_spec
from mgc.cache.store import ShardStore, cache_dir
from mgc.config import Config
from mgc.contract import FEATURES, PAIR, SPECTROGRAM, VECTOR_VIEWS, VIEWS, ClipSpec
from mgc.errors import UserError
from mgc.features import N_FEATURES
from mgc.input.feature_view import feature_view
from mgc.input.pretrained_view import pretrained_view
from mgc.input.scaling import FeatureScaler

# Shards read at once. Fixed, not sized to the machine: with a seeded shuffle the interleave's
# cycle decides the order of examples, which must not change with the number of cores.
READ_CYCLE = 4


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
    views: Sequence[str] = PAIR,
    include_track_id: bool = False,
    drop_remainder: bool = False,
    crop_frames: int = 0,
    window_starts: Sequence[int] | None = None,
    mixup_alpha: float = 0.0,
    one_hot: bool = False,
    copies: bool = False,
):
    """Batches of ``tracks`` (columns track_id, genre) for this config's cache.

    The training recipe (``mgc.training.recipe`` picks these for each model and split):
    ``crop_frames`` > 0 cuts each spectrogram to that many frames, at a random place per example
    (``window_starts`` None: training) or as every window starting at ``window_starts``, each its
    own example (validation: the batch grows by that factor, a track's windows consecutive).
    ``mixup_alpha`` > 0 mixes each batch with a shuffled copy of itself (mixup, Beta(alpha,
    alpha) per example; labels become soft). ``one_hot``: labels as one-hot rows (mixup's soft
    labels imply it). ``copies``: also the ``[augment] copies`` of these tracks made at
    extraction (mgc.cache.copies), labelled and featured as their originals. Random draws take
    ``seed`` and change every epoch, the same way every run.

    Labels are indices into ``classes``. ``views`` picks the inputs: spectrograms stream from
    the TFRecord cache, features come from :func:`feature_view` (computed, or the external
    ``features_csv``) and the pretrained view from :func:`pretrained_view`, so datasets of vector
    views only never touch the TFRecords. ``scaler`` standardises the features (not the pretrained
    view: its model standardises it). With
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
    tables = {}
    for view in (v for v in VECTOR_VIEWS if v in views):
        tables[view] = feature_view(config) if view == FEATURES else pretrained_view(config)
        available = set(tables[view].index) if available is None else available & set(tables[view].index)
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
    vectors = {view: table.loc[ids].to_numpy(np.float32) for view, table in tables.items()}
    if FEATURES in vectors and scaler is not None:
        vectors[FEATURES] = scaler.transform(vectors[FEATURES])

    if SPECTROGRAM not in views:
        inputs = {view: vectors[view] for view in views}
        if include_track_id:
            inputs["track_id"] = ids
        ds = tf.data.Dataset.from_tensor_slices((inputs, labels))
        if shuffle:
            ds = ds.shuffle(len(ids), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)

    files = [str(store.directory / s) for s in sorted(set(latest.loc[ids, "shard"]))]
    keys, rows = ids, np.arange(len(ids), dtype=np.int32)
    if copies:  # a copy reads as its original track: same label, same features
        from mgc.cache.copies import copy_shards

        copy_files, copy_ids, originals = copy_shards(config, ids)
        files += copy_files
        row_of = {track_id: i for i, track_id in enumerate(ids)}
        keys = np.concatenate([ids, copy_ids.astype(str)])
        rows = np.concatenate([rows, np.array([row_of[o] for o in originals], dtype=np.int32)])
    position = tf.lookup.StaticHashTable(  # track (or copy) id -> its row in ids/labels/features, else -1
        tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant(rows)), default_value=-1
    )
    label_of = tf.constant(labels)
    vectors_of = {view: tf.constant(value) for view, value in vectors.items()}
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
        for view, value in vectors_of.items():
            inputs[view] = tf.gather(value, rows)
        if include_track_id:
            inputs["track_id"] = ex["track_id"]
        return inputs, tf.gather(label_of, rows)

    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(READ_CYCLE, len(files)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,  # a seeded shuffle must give the same order every run
    )
    ds = ds.map(tag, num_parallel_calls=tf.data.AUTOTUNE).filter(lambda s, row: row >= 0)
    if shuffle:
        ds = ds.shuffle(config.input.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    if crop_frames or mixup_alpha:
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, draws)).map(
            _recipe(crop_frames, window_starts, mixup_alpha, len(classes)), num_parallel_calls=tf.data.AUTOTUNE)
    if one_hot and not mixup_alpha:
        ds = ds.map(lambda x, y: (x, tf.one_hot(y, len(classes))), num_parallel_calls=tf.data.AUTOTUNE)
    # The id filter hides the size from tf.data; Keras needs it for epochs and progress bars.
    n = len(keys)
    n_batches = n // batch_size if drop_remainder else -(-n // batch_size)
    ds = ds.apply(tf.data.experimental.assert_cardinality(n_batches))
    options = tf.data.Options()  # its own threads, one per core, so input never waits on training's ops
    options.threading.private_threadpool_size = os.cpu_count() or 1
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def _recipe(crop_frames: int, window_starts: Sequence[int] | None, mixup_alpha: float, n_classes: int):
    """The batch map of :func:`make_dataset`'s crops, windows and mixup; ``draw`` is the batch's
    random int64 (``tf.data.Dataset.random``), the root of every stateless draw it makes."""
    import tensorflow as tf

    def crop(x, y, seed):
        spec = x[SPECTROGRAM]
        if window_starts is not None:  # every window, a track's windows consecutive
            frames = spec.shape[2] if spec.shape[2] is not None else tf.shape(spec)[2]
            need = max(window_starts) + crop_frames - frames
            if need > 0:  # a trailing window past the clip: padded with the clip's floor
                floor = tf.reduce_min(spec, axis=(1, 2), keepdims=True)
                spec = tf.concat([spec, tf.broadcast_to(floor, [tf.shape(spec)[0], spec.shape[1], need])], axis=2)
            k = len(window_starts)
            windows = tf.stack([spec[:, :, s:s + crop_frames] for s in window_starts], axis=1)
            x = {name: tf.repeat(value, k, axis=0) for name, value in x.items() if name != SPECTROGRAM}
            x[SPECTROGRAM] = tf.reshape(windows, [-1, spec.shape[1], crop_frames])
            return x, tf.repeat(y, k, axis=0)
        n = tf.shape(spec)[0]
        offsets = tf.random.stateless_uniform([n], seed, 0, tf.shape(spec)[2] - crop_frames + 1, tf.int32)
        index = offsets[:, None] + tf.range(crop_frames)[None, :]
        return {**x, SPECTROGRAM: tf.gather(spec, index, axis=2, batch_dims=1)}, y

    def mix(x, y, seed):
        n = tf.shape(y)[0]
        a = tf.random.stateless_gamma([n], seed + [0, 1], mixup_alpha)
        b = tf.random.stateless_gamma([n], seed + [0, 2], mixup_alpha)
        lam = a / tf.maximum(a + b, 1e-12)
        partner = tf.argsort(tf.random.stateless_uniform([n], seed + [0, 3]))
        y = tf.one_hot(y, n_classes)
        x = {name: _mixed(value, tf.gather(value, partner), lam) if value.dtype.is_floating else value
             for name, value in x.items()}
        return x, _mixed(y, tf.gather(y, partner), lam)

    def apply(batch, draw):
        x, y = batch
        seed = tf.stack([draw, tf.constant(0, tf.int64)])
        if crop_frames:
            x, y = crop(x, y, seed)
        if mixup_alpha:
            x, y = mix(x, y, seed + [0, 4])
        return x, y

    return apply


def _mixed(a, b, lam):
    """``lam * a + (1 - lam) * b`` with ``lam`` (batch,) broadcast over ``a`` (batch, ...)."""
    import tensorflow as tf

    lam = tf.reshape(lam, tf.concat([[-1], tf.ones([tf.rank(a) - 1], tf.int32)], 0))
    return lam * a + (1.0 - lam) * b


def fit_scaler(config: Config, tracks: pd.DataFrame, path: str | Path | None = None,
               view: str = FEATURES) -> FeatureScaler:
    """Standardisation statistics of ``tracks``' vectors of ``view`` (:func:`feature_view` or
    :func:`pretrained_view`; pass the training portion only); saved to ``path`` when given."""
    if view not in VECTOR_VIEWS:
        raise ValueError(f"view must be one of {VECTOR_VIEWS}, got {view!r}")
    table = feature_view(config) if view == FEATURES else pretrained_view(config)
    ids = [t for t in tracks["track_id"] if t in table.index]
    if not ids:
        raise UserError(f"no {view} view for the training tracks; run extract"
                        + (" (or check [dataset] features_csv ids)" if view == FEATURES else ""))
    scaler = FeatureScaler.fit(table.loc[ids].to_numpy())
    if path is not None:
        scaler.save(path)
    return scaler

"""tf.data of cached frozen-branch outputs (:meth:`mgc.training.experiment.Experiment.vector_data`)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def vector_data(arrays: dict[str, np.ndarray], classes, seed: int):
    """``make(tracks, shuffle, batch_size)``: tf.data of ``({slot: vectors}, label)`` batches from
    ``arrays`` (``track_id`` and the extractors' rows: ``cnn``, ``mlp``[, ``musicnn``]) for the
    ``tracks`` it has; labels index ``classes``, shuffles take ``seed``."""
    import tensorflow as tf

    row = {t: i for i, t in enumerate(arrays["track_id"])}
    lookup = {name: i for i, name in enumerate(classes)}

    def make(tracks: pd.DataFrame, shuffle: bool, batch_size: int):
        rows = np.array([row[t] for t in tracks["track_id"] if t in row], dtype=int)
        labels = np.array([lookup[g] for t, g in zip(tracks["track_id"], tracks["genre"]) if t in row], "int32")
        vectors = {slot: value[rows] for slot, value in arrays.items() if slot != "track_id"}
        ds = tf.data.Dataset.from_tensor_slices((vectors, labels))
        if shuffle:
            ds = ds.shuffle(len(rows), seed=seed)
        return ds.batch(batch_size)

    return make

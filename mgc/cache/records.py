"""The TFRecord example format of the cache: one ``tf.train.Example`` per track.

Features: ``track_id`` (bytes), ``spectrogram`` (raw float16 bytes, row-major n_mels x
frames), ``spectrogram_shape`` (int64[2]) and ``features`` (float32[518]).
"""

from __future__ import annotations

import os

import numpy as np


def load_writer() -> None:
    """Import what :func:`write_records` needs (TensorFlow) now: the extract parent, which
    writes the shards, calls it while the workers' fork server warms up, so the two overlap."""
    import tensorflow  # noqa: F401


def write_records(path: str | os.PathLike, records) -> None:
    """Write the serialized examples ``records`` to a TFRecord file at ``path`` (not atomic:
    give it a temporary path, e.g. :func:`mgc.io.atomic_path`)."""
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)


def serialize(track_id: str, spectrogram: np.ndarray, features: np.ndarray) -> bytes:
    """One serialized example (spectrogram stored as float16)."""
    import tensorflow as tf

    spec = np.ascontiguousarray(spectrogram, dtype=np.float16)
    feature = {
        "track_id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[track_id.encode()])),
        "spectrogram": tf.train.Feature(bytes_list=tf.train.BytesList(value=[spec.tobytes()])),
        "spectrogram_shape": tf.train.Feature(int64_list=tf.train.Int64List(value=list(spec.shape))),
        "features": tf.train.Feature(
            float_list=tf.train.FloatList(value=np.asarray(features, np.float32).tolist())
        ),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def feature_spec(n_features: int) -> dict:
    """The ``tf.io.parse_example`` spec for a cache example."""
    import tensorflow as tf

    return {
        "track_id": tf.io.FixedLenFeature([], tf.string),
        "spectrogram": tf.io.FixedLenFeature([], tf.string),
        "spectrogram_shape": tf.io.FixedLenFeature([2], tf.int64),
        "features": tf.io.FixedLenFeature([n_features], tf.float32),
    }


def parse(serialized: bytes, n_features: int) -> tuple[str, np.ndarray, np.ndarray]:
    """Eagerly parse one example back to ``(track_id, spectrogram float16, features)``."""
    import tensorflow as tf

    ex = tf.io.parse_single_example(serialized, feature_spec(n_features))
    shape = ex["spectrogram_shape"].numpy()
    spec = np.frombuffer(ex["spectrogram"].numpy(), dtype=np.float16).reshape(shape)
    return ex["track_id"].numpy().decode(), spec, ex["features"].numpy()

"""TF1 checkpoints read as numpy arrays: the pretrained weights' way in.

TensorFlow's file formats are read in this package (TFRecord shards in :mod:`mgc.input.tfdata`,
checkpoints here). A checkpoint is read once, to convert it into a Keras ``.weights.h5`` that every
backend loads without TensorFlow (:mod:`mgc.models.musicnn_weights`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from mgc.errors import UserError


def read_tensors(prefix: str, keep: Callable[[str], bool] = lambda name: True) -> dict[str, np.ndarray]:
    """Every tensor of the checkpoint at ``prefix`` (a string: ``"folder/"`` for files with an empty
    prefix, ``folder/.index``) that ``keep(name)`` accepts, by variable name; one-line UserError for
    an unreadable checkpoint."""
    from tensorflow.python.training import py_checkpoint_reader

    try:
        reader = py_checkpoint_reader.NewCheckpointReader(prefix)
    except Exception as exc:  # tf's errors.DataLossError, NotFoundError...: one line is enough
        raise UserError(f"cannot read the checkpoint {prefix} ({str(exc).splitlines()[0]})") from None
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map() if keep(name)}

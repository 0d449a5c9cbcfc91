"""Same config, same seed, same machine: the same numbers, run after run.

Every random choice already takes ``[run] seed`` (splits, folds, tf.data shuffles, Keras's
initialisers and dropout through ``keras.utils.set_random_seed``). What is left is the backend's
kernels: with ``[run] deterministic = true`` (the default) TensorFlow runs only deterministic ops
(``tf.config.experimental.enable_op_determinism``) and PyTorch only deterministic algorithms; JAX
on CPU is deterministic as it is. ``[run] threads`` fixes the backend's intra-op thread count
(0: the backend's default, every core), since the number of threads can change how float sums
are split, and so their rounding, from one machine to another.

Across machines, CPU kernels (oneDNN's choice of instructions) still differ: see
docs/reproducibility.md for the measured spread.

The backend's part is its engine's (:meth:`mgc.training.engines.Engine.configure`); this module
only dispatches to it.
"""

from __future__ import annotations

import keras

from mgc.config import Config
from mgc.training.engines import engine


def configure(config: Config) -> None:
    """Set the backend's determinism and threads for ``config``; call before a model is built."""
    run = config.run
    engine().configure(run.deterministic, run.threads)
    keras.utils.set_random_seed(run.seed)

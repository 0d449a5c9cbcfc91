"""What only one Keras backend's engine does, one module per backend, picked once per process.

:func:`engine` returns the :class:`Engine` of ``keras.backend.backend()``:
:mod:`.tensorflow` (``tf.distribute`` strategies, op determinism, a traced predict function),
:mod:`.jax` (``keras.distribution`` over JAX devices and processes) or :mod:`.torch`
(deterministic algorithms and threads; Keras has no distribution for it). Any other backend gets
the plain :class:`Engine`. The rest of the package stays backend-neutral: it asks the engine
(:mod:`mgc.training.distribute`, :mod:`mgc.training.determinism`, :mod:`mgc.predict.runners`)
instead of importing TensorFlow, JAX or PyTorch itself.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any, Callable, ContextManager

import keras
import numpy as np

from mgc.errors import UserError

ENGINES = ("tensorflow", "jax", "torch")  # backends with a module of their own here


@dataclass
class Placement:
    """Where a distributed model runs, from :meth:`Engine.distribution`: replicas in sync, the
    processes feeding them (this one's index), their devices, and the scope to train in."""

    replicas: int
    processes: int
    process_index: int
    devices: list[str]
    scope: ContextManager


class Engine:
    """A backend's engine; this base is what a backend without its own module does."""

    name = "keras"
    synchronizes_batch_norm = False  # Replicas.prepare: batch norm must be told to sync across replicas
    distributes_tf_data = False  # the strategy distributes (and would auto-shard) tf.data datasets itself

    def configure(self, deterministic: bool, threads: int) -> None:
        """Deterministic kernels and ``threads`` intra-op threads (0: the backend's default)."""

    def setup(self, distribute) -> None:
        """Prepare ``[distribute]`` (logical devices, the multi-worker runtime) before the backend starts."""

    def distribution(self, distribute, devices: list[tuple[str, int]]) -> Placement:
        """The :class:`Placement` of ``[distribute]``'s strategy; ``devices``: ``[distribute] devices``
        parsed (:func:`mgc.training.distribute.parse_device`). (Config.validate refuses a strategy
        under a backend without one, so this base is never reached from a checked config.)"""
        raise UserError(f"[distribute] strategy = {distribute.strategy!r} needs the TensorFlow or JAX backend "
                        f"(Keras has no distribution for {keras.backend.backend()}); set KERAS_BACKEND=tensorflow "
                        f"or jax")

    def predictor(self, model: keras.Model, input_shapes: dict[str, tuple[int, ...]]
                  ) -> Callable[[dict[str, np.ndarray]], Any]:
        """``x -> probabilities`` (numpy) of a logits ``model`` taking float32 ``input_shapes``
        (per example): the backend's own compiled predict step, numpy in and out."""
        return lambda x: keras.ops.convert_to_numpy(
            keras.ops.softmax(keras.ops.cast(model.predict_on_batch(x), "float32"), axis=-1))


@functools.cache
def engine() -> Engine:
    """The :class:`Engine` of this process's Keras backend (fixed once Keras is imported)."""
    backend = keras.backend.backend()
    if backend not in ENGINES:
        return Engine()
    return importlib.import_module(f"{__name__}.{backend}").ENGINE


__all__ = ["ENGINES", "Engine", "Placement", "engine"]

"""Data-parallel training on the backend's own engine, chosen by ``[distribute]``.

``strategy = "data_parallel"`` replicates the model on this machine's devices:
``tf.distribute.MirroredStrategy`` under TensorFlow, ``keras.distribution.DataParallel`` under
JAX. ``strategy = "multi_worker"`` spans machines: ``tf.distribute.MultiWorkerMirroredStrategy``
configured from ``TF_CONFIG`` under TensorFlow; under JAX, ``keras.distribution.initialize()``
(``jax.distributed``) from ``KERAS_DISTRIBUTION_JOB_ADDRESSES``, ``KERAS_DISTRIBUTION_NUM_PROCESSES``
and ``KERAS_DISTRIBUTION_PROCESS_ID``, then ``DataParallel`` over every process's devices.
``cpu_devices = N`` splits the host CPU into N logical devices (for trying it without
accelerators, and for the tests). The torch backend has no such engine in Keras.

Semantics: the global batch is the configured batch size, split across the replicas, so a
distributed run takes the same steps as a single-device one. :meth:`Replicas.data` makes every
batch split evenly (JAX requires it): a last, smaller batch whose size the replicas do not
divide is repeated once per replica, with sample weights ``1 / replicas``, and the loss and
accuracy are compiled as sample-weighted means, so gradients, batch-norm statistics (TensorFlow's
synchronised across replicas by :meth:`Replicas.prepare`) and accuracy equal the single-device
ones; only the logged epoch loss counts such a repeated batch ``replicas`` times.

This module is backend-neutral: the strategies, devices and runtimes are the engine's
(:mod:`mgc.training.engines`), the batch evening is a tf.data transformation of the input
pipeline (:func:`mgc.input.replicas.split_evenly`).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Iterator

import keras

from mgc.config import DEVICE_PATTERN, Config
from mgc.errors import UserError
from mgc.training.engines import engine


@dataclass
class Replicas:
    """What :func:`distribution` yields: how many replicas train in sync, and the helpers that
    make data and models fit them. ``replicas == 1`` and no strategy: everything passes through."""

    strategy: str = "none"
    replicas: int = 1
    processes: int = 1  # JAX multi-process: this process feeds its share of every global batch
    process_index: int = 0
    devices: list[str] = field(default_factory=list)
    _synchronized: list = field(default_factory=list, repr=False)

    @property
    def active(self) -> bool:
        """Training runs under a distribution: batches carry sample weights (compile weighted)."""
        return self.strategy != "none"

    def data(self, dataset):
        """``dataset`` of ``(inputs, labels)`` batches (global batch size) as ``(inputs, labels,
        weights)`` batches that split evenly across the replicas (see the module docstring and
        :func:`mgc.input.replicas.split_evenly`)."""
        if not self.active:
            return dataset
        from mgc.input.replicas import split_evenly

        return split_evenly(dataset, self.replicas, self.processes, self.process_index,
                            shard_by_data=engine().distributes_tf_data)

    def wrap_data(self, make_data):
        """``make_data(tracks, shuffle, batch_size)`` whose datasets go through :meth:`data`."""
        if not self.active:
            return make_data
        return lambda tracks, shuffle, batch_size: self.data(make_data(tracks, shuffle, batch_size))

    def prepare(self, model: keras.Model) -> keras.Model:
        """Under TensorFlow, batch normalisation of ``model`` uses the statistics of the global
        batch (synchronised across replicas) until the distribution ends; JAX's are global anyway.
        Saved configs (``checkpoint.keras`` during training too) keep plain batch norm, which
        every backend loads."""
        if self.active and engine().synchronizes_batch_norm:
            for layer in _layers(model):
                if isinstance(layer, keras.layers.BatchNormalization) and not layer.synchronized:
                    layer.synchronized = True
                    layer.get_config = _plain_config(layer)
                    self._synchronized.append(layer)
        return model

    def wrap_model(self, make_model):
        """``make_model(params, tracks)`` whose models go through :meth:`prepare`."""
        if not self.active:
            return make_model
        return lambda params, tracks: self.prepare(make_model(params, tracks))

    def _restore(self) -> None:
        for layer in self._synchronized:
            layer.synchronized = False
            del layer.get_config
        self._synchronized.clear()


def _plain_config(layer):
    get_config = type(layer).get_config.__get__(layer)
    return lambda: {**get_config(), "synchronized": False}


def _layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers(layer)


def parse_device(text: str) -> tuple[str, int]:
    """``"gpu:1"`` (also ``GPU:1``, ``/gpu:1``, ``/device:GPU:1``) as ``("gpu", 1)``."""
    match = re.fullmatch(DEVICE_PATTERN, text.strip(), flags=re.IGNORECASE)
    if not match:
        raise UserError(f"[distribute] devices: {text!r} is not a device like 'gpu:0' or 'cpu:1'")
    return match.group(1).lower(), int(match.group(2))


def setup(config: Config) -> None:
    """Configure the backend for ``config``'s [distribute] before it starts: logical CPU devices,
    the multi-worker runtime. Idempotent; the training stages call it first thing."""
    d = config.distribute
    if d.strategy == "none" and not d.cpu_devices:
        return
    engine().setup(d)  # a backend without distribution does nothing (a strategy: refused by Config.validate)


@contextlib.contextmanager
def distribution(config: Config) -> Iterator[Replicas]:
    """The scope in which to build, compile and fit models under ``config``'s [distribute].

    Yields :class:`Replicas`; pass datasets through ``.data`` (or ``.wrap_data``), models
    through ``.prepare`` and compile with ``weighted=.active``. Keras's global distribution (JAX)
    or TensorFlow's strategy scope is set inside and restored on exit.
    """
    d = config.distribute
    setup(config)  # cpu_devices alone still splits the CPU
    if d.strategy == "none":
        yield Replicas()
        return
    devices = [] if d.strategy == "multi_worker" else [parse_device(name) for name in d.devices]
    placement = engine().distribution(d, devices)
    replicas = Replicas(d.strategy, placement.replicas, placement.processes, placement.process_index,
                        placement.devices)
    try:
        with placement.scope:
            yield replicas
    finally:
        replicas._restore()

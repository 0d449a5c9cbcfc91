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
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Iterator

import keras

from mgc.config import DEVICE_PATTERN, Config
from mgc.errors import UserError

FORCE_CPU_FLAG = "--xla_force_host_platform_device_count"
JAX_ENV = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES", "KERAS_DISTRIBUTION_PROCESS_ID")
_tf_multi_worker = None  # TensorFlow allows one MultiWorkerMirroredStrategy per process, made before it starts


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
        weights)`` batches that split evenly across the replicas (see the module docstring)."""
        if not self.active:
            return dataset
        import tensorflow as tf

        replicas, processes, index = self.replicas, self.processes, self.process_index

        def even(x, y):
            n = tf.shape(y)[0]
            copies = tf.where(n % replicas == 0, 1, replicas)

            def tile(t):
                return tf.tile(t, tf.concat([[copies], tf.ones([tf.rank(t) - 1], tf.int32)], 0))

            x, y = tf.nest.map_structure(tile, (x, y))
            w = tf.fill([n * copies], 1.0 / tf.cast(copies, tf.float32))
            if processes > 1:  # keras.distribution assembles the global batch from each process's part
                part = n * copies // processes
                x, y, w = tf.nest.map_structure(lambda t: t[index * part:(index + 1) * part], (x, y, w))
            return x, y, w

        dataset = dataset.map(even)
        if keras.backend.backend() == "tensorflow":
            # Every worker reads the same batches and keeps its replicas' slices of each (the
            # default would shard TFRecord files between workers: another order than one device).
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            dataset = dataset.with_options(options)
        return dataset

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
        if self.active and keras.backend.backend() == "tensorflow":
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


@contextlib.contextmanager
def _keras_multi_worker_fixes():
    """Keras 3's TensorFlow trainer fails under MultiWorkerMirroredStrategy
    (tensorflow/tensorflow#72388); two fixes, in place only while the strategy's scope is open:

    - it reduces each step's scalar logs with ``strategy.reduce("MEAN", v, axis=0)`` (an error
      on scalars): reduce them over replicas, ``axis=None``;
    - it builds a model from a first batch all-reduced with one ``strategy.reduce`` over the
      nested batch, which this strategy refuses (MirroredStrategy maps over it): only shapes
      matter there, so build from this worker's first replica's part.

    Epoch logs (early stopping's ``val_loss``) come from the metrics' variables, summed over
    every replica, either way.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer

    reduce_per_replica, symbolic_build = trainer.reduce_per_replica, trainer.TensorFlowTrainer._maybe_symbolic_build

    def reduce(values, strategy, reduction):
        if reduction in ("auto", "mean") and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return reduce_per_replica(values, strategy, reduction)

    def build(self, iterator=None, data_batch=None):
        if iterator is not None and isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: v.values[0] if isinstance(v, tf.distribute.DistributedValues) else v, next(it))
                break
            iterator = None
        return symbolic_build(self, iterator=iterator, data_batch=data_batch)

    trainer.reduce_per_replica, trainer.TensorFlowTrainer._maybe_symbolic_build = reduce, build
    try:
        yield
    finally:
        trainer.reduce_per_replica, trainer.TensorFlowTrainer._maybe_symbolic_build = reduce_per_replica, symbolic_build


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
    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax"):  # a strategy here is refused by Config.validate
        return
    if backend == "tensorflow":
        _tf_setup(d)
    else:
        _jax_setup(d)


def _tf_setup(d) -> None:
    import tensorflow as tf
    from tensorflow.python.eager import context

    global _tf_multi_worker
    started = context.context()._context_handle is not None
    if d.cpu_devices:
        have = len(tf.config.list_logical_devices("CPU")) if started else 0
        if not started:
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * d.cpu_devices)
        elif have != d.cpu_devices:
            raise UserError(f"[distribute] cpu_devices = {d.cpu_devices}: TensorFlow already started with {have} "
                            "CPU device(s); set it before anything runs (a fresh process)")
    if d.strategy == "multi_worker" and _tf_multi_worker is None:
        _check_tf_config()
        if started:
            raise UserError("[distribute] strategy = 'multi_worker' must start before TensorFlow runs anything "
                            "(a fresh process)")
        _tf_multi_worker = tf.distribute.MultiWorkerMirroredStrategy()


def _check_tf_config() -> None:
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        raise UserError('[distribute] strategy = "multi_worker" under TensorFlow needs TF_CONFIG set, e.g. {"cluster": '
                        '{"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}')
    try:
        tf_config = json.loads(text)
        workers = tf_config["cluster"]["worker"]
        task = tf_config["task"]
        ok = (isinstance(workers, list) and task["type"] in ("worker", "chief")
              and 0 <= int(task["index"]) < len(workers))
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise UserError(f"TF_CONFIG must be JSON with cluster.worker (a list of host:port) and task "
                        f"(type 'worker', index into that list); got {text!r}")


def _jax_setup(d) -> None:
    import jax
    from jax._src import xla_bridge

    started = xla_bridge.backends_are_initialized()
    if d.cpu_devices and not started:
        flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith(FORCE_CPU_FLAG)]
        os.environ["XLA_FLAGS"] = " ".join(flags + [f"{FORCE_CPU_FLAG}={d.cpu_devices}"])
    if d.strategy == "multi_worker" and not _jax_multi_process_started():
        missing = [name for name in JAX_ENV if not os.environ.get(name)]
        if missing:
            raise UserError(f'[distribute] strategy = "multi_worker" under JAX needs {", ".join(JAX_ENV)} set '
                            f"(missing {missing[0]}); see keras.distribution.initialize")
        if started:
            raise UserError("[distribute] strategy = 'multi_worker' must start before JAX runs anything "
                            "(a fresh process)")
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU processes all-reduce over gloo
        keras.distribution.initialize()
    if d.cpu_devices:
        have = len(jax.local_devices(backend="cpu"))
        if have != d.cpu_devices:
            raise UserError(f"[distribute] cpu_devices = {d.cpu_devices}: JAX already started with {have} CPU "
                            f"device(s); set it before anything runs (a fresh process, or XLA_FLAGS="
                            f"{FORCE_CPU_FLAG}=N)")


def _jax_multi_process_started() -> bool:
    from jax._src import distributed

    return distributed.global_state.client is not None


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
    if keras.backend.backend() == "tensorflow":
        strategy = _tf_strategy(d)
        devices = list(strategy.extended.worker_devices)
        replicas = Replicas(d.strategy, strategy.num_replicas_in_sync, devices=devices)
        scope = contextlib.ExitStack()
        scope.enter_context(strategy.scope())
        if d.strategy == "multi_worker":
            scope.enter_context(_keras_multi_worker_fixes())
    else:
        import jax

        keras_devices = _jax_devices(d)
        dist = keras.distribution.DataParallel(devices=keras_devices, auto_shard_dataset=False)
        replicas = Replicas(d.strategy, len(keras_devices), jax.process_count(), jax.process_index(), keras_devices)
        scope = dist.scope()  # keras.distribution.set_distribution, restored on exit
    try:
        with scope:
            yield replicas
    finally:
        replicas._restore()


def _tf_strategy(d):
    import tensorflow as tf

    if d.strategy == "multi_worker":
        return _tf_multi_worker
    if d.devices:
        devices = [f"/device:{kind.upper()}:{i}" for kind, i in map(parse_device, d.devices)]
        known = {dev.name.replace("/device:", "").upper() for dev in tf.config.list_logical_devices()}
        for name in devices:
            if name.replace("/device:", "").upper() not in known:
                raise UserError(f"[distribute] devices: TensorFlow has no {name} (it has {', '.join(sorted(known))})")
    else:  # every GPU, else every (logical) CPU; MirroredStrategy's own default would take CPU:0 only
        gpus = [] if d.cpu_devices else tf.config.list_logical_devices("GPU")
        devices = [dev.name for dev in gpus or tf.config.list_logical_devices("CPU")]
    # Logical CPU devices share one memory: reduce on one of them. (TensorFlow's default, collective
    # all-reduce, mixes up the order of gradient and synchronised batch-norm reductions on CPUs.)
    cpu_only = all("CPU" in name.upper() for name in devices)
    return tf.distribute.MirroredStrategy(devices=devices,
                                          cross_device_ops=tf.distribute.ReductionToOneDevice() if cpu_only else None)


def _jax_devices(d) -> list[str]:
    if d.strategy == "multi_worker":
        return keras.distribution.list_devices()  # every process's devices
    if d.devices:
        devices = [f"{kind}:{i}" for kind, i in map(parse_device, d.devices)]
        for name in devices:
            kind = name.split(":")[0]
            if name not in keras.distribution.list_devices(kind):
                raise UserError(f"[distribute] devices: JAX has no {name} "
                                f"(it has {', '.join(keras.distribution.list_devices(kind)) or 'none'})")
        return devices
    return keras.distribution.list_devices("cpu" if d.cpu_devices else None)

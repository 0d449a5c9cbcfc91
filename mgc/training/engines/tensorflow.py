"""The TensorFlow engine: ``tf.distribute`` strategies, op determinism, a traced predict function.

``strategy = "data_parallel"``: ``tf.distribute.MirroredStrategy`` over this machine's devices
(every GPU, else every logical CPU). ``strategy = "multi_worker"``:
``tf.distribute.MultiWorkerMirroredStrategy`` configured from ``TF_CONFIG``; TensorFlow allows one
per process, made before TensorFlow starts, so :meth:`TensorFlowEngine.setup` makes it and the
engine keeps it. ``cpu_devices = N`` splits the host CPU into N logical devices.

The two workarounds of Keras and TensorFlow internals live in one function each, named for the
upstream problem: :func:`_keras_multi_worker_fixes` and :func:`_tensorflow_started`.
"""

from __future__ import annotations

import contextlib
import json
import os

import keras
import tensorflow as tf

from mgc.errors import UserError
from mgc.training.engines import Engine, Placement


class TensorFlowEngine(Engine):
    name = "tensorflow"
    synchronizes_batch_norm = True  # a replica's batch norm sees its part of the batch unless synchronised
    distributes_tf_data = True

    def __init__(self):
        self._multi_worker = None  # this process's one MultiWorkerMirroredStrategy, made by setup

    # -- determinism ---------------------------------------------------------------------------
    def configure(self, deterministic: bool, threads: int) -> None:
        if deterministic:
            tf.config.experimental.enable_op_determinism()
        if threads and tf.config.threading.get_intra_op_parallelism_threads() != threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            except RuntimeError:  # TensorFlow already started in this process: its threads are fixed
                pass

    # -- [distribute] --------------------------------------------------------------------------
    def setup(self, d) -> None:
        started = _tensorflow_started()
        if d.cpu_devices:
            have = len(tf.config.list_logical_devices("CPU")) if started else 0
            if not started:
                cpu = tf.config.list_physical_devices("CPU")[0]
                logical = [tf.config.LogicalDeviceConfiguration()] * d.cpu_devices
                tf.config.set_logical_device_configuration(cpu, logical)
            elif have != d.cpu_devices:
                raise UserError(f"[distribute] cpu_devices = {d.cpu_devices}: TensorFlow already started with {have} "
                                "CPU device(s); set it before anything runs (a fresh process)")
        if d.strategy == "multi_worker" and self._multi_worker is None:
            _check_tf_config()
            if started:
                raise UserError("[distribute] strategy = 'multi_worker' must start before TensorFlow runs anything "
                                "(a fresh process)")
            self._multi_worker = tf.distribute.MultiWorkerMirroredStrategy()

    def distribution(self, d, devices: list[tuple[str, int]]) -> Placement:
        strategy = self._strategy(d, devices)
        names = list(strategy.extended.worker_devices)
        scope = contextlib.ExitStack()
        scope.enter_context(strategy.scope())
        if d.strategy == "multi_worker":
            scope.enter_context(_keras_multi_worker_fixes())
        return Placement(strategy.num_replicas_in_sync, 1, 0, names, scope)

    def _strategy(self, d, devices: list[tuple[str, int]]):
        if d.strategy == "multi_worker":
            return self._multi_worker
        if devices:
            names = [f"/device:{kind.upper()}:{i}" for kind, i in devices]
            known = {dev.name.replace("/device:", "").upper() for dev in tf.config.list_logical_devices()}
            for name in names:
                if name.replace("/device:", "").upper() not in known:
                    raise UserError(f"[distribute] devices: TensorFlow has no {name} "
                                    f"(it has {', '.join(sorted(known))})")
        else:  # every GPU, else every (logical) CPU; MirroredStrategy's own default would take CPU:0 only
            gpus = [] if d.cpu_devices else tf.config.list_logical_devices("GPU")
            names = [dev.name for dev in gpus or tf.config.list_logical_devices("CPU")]
        # Logical CPU devices share one memory: reduce on one of them. (TensorFlow's default, collective
        # all-reduce, mixes up the order of gradient and synchronised batch-norm reductions on CPUs.)
        cpu_only = all("CPU" in name.upper() for name in names)
        reduction = tf.distribute.ReductionToOneDevice() if cpu_only else None
        return tf.distribute.MirroredStrategy(devices=names, cross_device_ops=reduction)

    # -- predict ---------------------------------------------------------------------------------
    def predictor(self, model: keras.Model, input_shapes: dict[str, tuple[int, ...]]):
        """One traced function for every batch size (Keras's predict_on_batch would retrace)."""
        signature = {name: tf.TensorSpec((None, *shape), tf.float32, name=name) for name, shape in input_shapes.items()}

        @tf.function(input_signature=[signature], reduce_retracing=True)
        def probabilities(x):
            return tf.nn.softmax(tf.cast(model(x, training=False), tf.float32), axis=-1)

        return lambda x: probabilities(x).numpy()


def _tensorflow_started() -> bool:
    """Whether TensorFlow's eager context exists in this process (logical devices, threads and the
    multi-worker runtime can only be set before it does).

    Workaround: TensorFlow has no public "has started" query (checked on TF 2.17.1). The public
    setters are no probe: ``tf.config.set_logical_device_configuration`` (and the threading
    setters) return quietly when given the current value and *apply* a new one when TensorFlow
    has not started, so only the private context handle answers without side effects.
    """
    from tensorflow.python.eager import context

    return context.context()._context_handle is not None


@contextlib.contextmanager
def _keras_multi_worker_fixes():
    """Workaround for tensorflow/tensorflow#72388: Keras 3's TensorFlow trainer fails under
    MultiWorkerMirroredStrategy (seen with Keras 3.15.1 on TensorFlow 2.17.1; drop it when
    ``keras/src/backend/tensorflow/trainer.py`` no longer calls ``strategy.reduce("MEAN", v,
    axis=0)`` on scalars). Two fixes of Keras's private trainer, in place only while the strategy's
    scope is open:

    - it reduces each step's scalar logs with ``strategy.reduce("MEAN", v, axis=0)`` (an error
      on scalars): reduce them over replicas, ``axis=None``;
    - it builds a model from a first batch all-reduced with one ``strategy.reduce`` over the
      nested batch, which this strategy refuses (MirroredStrategy maps over it): only shapes
      matter there, so build from this worker's first replica's part.

    Epoch logs (early stopping's ``val_loss``) come from the metrics' variables, summed over
    every replica, either way.
    """
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


ENGINE = TensorFlowEngine()

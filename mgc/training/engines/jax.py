"""The JAX engine: ``keras.distribution.DataParallel`` over JAX's devices and processes.

``strategy = "data_parallel"``: this machine's devices. ``strategy = "multi_worker"``:
``keras.distribution.initialize()`` (``jax.distributed``) from ``KERAS_DISTRIBUTION_JOB_ADDRESSES``,
``KERAS_DISTRIBUTION_NUM_PROCESSES`` and ``KERAS_DISTRIBUTION_PROCESS_ID``, then ``DataParallel``
over every process's devices. ``cpu_devices = N`` asks XLA for N host devices (``XLA_FLAGS``).
JAX on CPU is deterministic as it is: :meth:`Engine.configure` has nothing to set.

JAX has no public query for the two runtime states needed here (checked on jax 0.4.38): each
private one is read in one function, :func:`_backends_started` and :func:`_multi_process_started`.
"""

from __future__ import annotations

import os

import jax
import keras

from mgc.errors import UserError
from mgc.training.engines import Engine, Placement

FORCE_CPU_FLAG = "--xla_force_host_platform_device_count"
JAX_ENV = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES", "KERAS_DISTRIBUTION_PROCESS_ID")


class JaxEngine(Engine):
    name = "jax"

    def setup(self, d) -> None:
        started = _backends_started()
        if d.cpu_devices and not started:
            flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith(FORCE_CPU_FLAG)]
            os.environ["XLA_FLAGS"] = " ".join(flags + [f"{FORCE_CPU_FLAG}={d.cpu_devices}"])
        if d.strategy == "multi_worker" and not _multi_process_started():
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

    def distribution(self, d, devices: list[tuple[str, int]]) -> Placement:
        names = _devices(d, devices)
        dist = keras.distribution.DataParallel(devices=names, auto_shard_dataset=False)
        # dist.scope(): keras.distribution.set_distribution, restored on exit
        return Placement(len(names), jax.process_count(), jax.process_index(), names, dist.scope())


def _devices(d, devices: list[tuple[str, int]]) -> list[str]:
    if d.strategy == "multi_worker":
        return keras.distribution.list_devices()  # every process's devices
    if devices:
        names = [f"{kind}:{i}" for kind, i in devices]
        for name in names:
            kind = name.split(":")[0]
            if name not in keras.distribution.list_devices(kind):
                raise UserError(f"[distribute] devices: JAX has no {name} "
                                f"(it has {', '.join(keras.distribution.list_devices(kind)) or 'none'})")
        return names
    return keras.distribution.list_devices("cpu" if d.cpu_devices else None)


def _backends_started() -> bool:
    """Whether JAX has started its backends (XLA_FLAGS is read then, once). Workaround: private
    ``jax._src.xla_bridge.backends_are_initialized`` (no public equivalent in jax 0.4.38)."""
    from jax._src import xla_bridge

    return xla_bridge.backends_are_initialized()


def _multi_process_started() -> bool:
    """Whether ``jax.distributed`` is initialised in this process. Workaround: private
    ``jax._src.distributed.global_state`` (jax 0.4.38 has no public ``jax.distributed.is_initialized``)."""
    from jax._src import distributed

    return distributed.global_state.client is not None


ENGINE = JaxEngine()

"""The PyTorch engine: deterministic algorithms and threads. Keras has no distribution for it
(Config.validate refuses a ``[distribute]`` strategy under torch); predict uses the base
:meth:`Engine.predictor` (Keras's compiled predict step)."""

from __future__ import annotations

import torch

from mgc.training.engines import Engine


class TorchEngine(Engine):
    name = "torch"

    def configure(self, deterministic: bool, threads: int) -> None:
        if deterministic:
            torch.use_deterministic_algorithms(True)
        if threads:
            torch.set_num_threads(threads)


ENGINE = TorchEngine()

"""Train a small model the way the pipeline does, single-device and/or under [distribute], and
save the weights (tests/test_distribute.py runs this in fresh processes: logical devices and
multi-worker runtimes must be set up before the backend starts).

    KERAS_BACKEND=jax python tests/distribute_worker.py OUT.npz --strategy data_parallel --cpu-devices 2 --reference
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SPECTROGRAM = (16, 32)
FEATURES = 24
CLASSES = 3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--strategy", default="data_parallel")
    parser.add_argument("--cpu-devices", type=int, default=0)
    parser.add_argument("--models", default="mlp")
    parser.add_argument("--examples", type=int, default=45)  # batches of 8: the last one (5) splits unevenly
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--reference", action="store_true", help="also train on one device (no strategy)")
    args = parser.parse_args()

    from mgc.config import load_config
    from mgc.training import distribute

    config = load_config(None, {"distribute.strategy": args.strategy, "distribute.cpu_devices": args.cpu_devices})
    distribute.setup(config)  # before the backend runs anything

    import keras
    import numpy as np

    results = {}
    for name in args.models.split(","):
        if args.reference:
            results[f"{name}/single"], _, _ = train(name, None, args)
        start = time.perf_counter()
        weights, replicas, paths = train(name, config, args)
        results[f"{name}/distributed"] = weights
        print(f"{keras.backend.backend()} {name}: {replicas.replicas} replicas ({replicas.strategy}) "
              f"on {replicas.devices}, {time.perf_counter() - start:.1f} s", flush=True)
        results[f"{name}/replicas"] = [np.array(replicas.replicas)]
        results[f"{name}/paths"] = [np.array(paths)]
    np.savez(args.out, **{f"{key}/{i}": w for key, ws in results.items() for i, w in enumerate(ws)})


def data(name: str, args):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    y = rng.integers(0, CLASSES, args.examples).astype("int32")
    if name == "mlp":
        x = {"features": (rng.normal(size=(args.examples, FEATURES)) + y[:, None]).astype("float32")}
    else:
        x = {"spectrogram": (rng.normal(size=(args.examples, *SPECTROGRAM)) + y[:, None, None]).astype("float32")}
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch)  # in order: no shuffling


def train(name: str, config, args):
    """``config=None``: one device, exactly as the pipeline trains without [distribute]."""
    import keras
    import numpy as np

    from mgc.models.registry import Shapes, build
    from mgc.training.distribute import Replicas, distribution
    from mgc.training.fit import fit

    shapes = Shapes(SPECTROGRAM, FEATURES, CLASSES)
    params = {"mlp": {"width": 16, "depth": 2, "dropout": 0.0},
              "small_cnn": {"filters": [4, 8], "pools": [[2, 2], [2, 2]], "dense": 16, "l2": 0.01, "dropout": 0.0,
                            "bn_momentum": 0.9}}[name]
    stats = {"mean": np.zeros(FEATURES), "variance": np.ones(FEATURES)} if name == "mlp" else {}
    scope = distribution(config) if config is not None else contextlib.nullcontext(Replicas())
    with scope as replicas:
        keras.utils.set_random_seed(0)
        model = replicas.prepare(build(name, params, shapes, **stats))
        ds = replicas.data(data(name, args))
        fit(model, ds, ds, learning_rate=1e-2, epochs=args.epochs, patience=args.epochs,
            weighted=replicas.active)
    return [np.asarray(w) for w in model.get_weights()], replicas, [w.path for w in model.weights]


if __name__ == "__main__":
    main()

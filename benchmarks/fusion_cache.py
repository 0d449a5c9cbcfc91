"""Fusion grid search: heads trained on cached frozen-branch outputs vs through the frozen graph.

The frozen CNN and MLP never change, so their outputs for every track are computed once and the
heads train on those vectors. This times one fusion grid both ways on a finished run (default:
the demo), same combinations, folds and epochs (early stopping off so both do the same work).
The cached time includes computing the cache.

    python -m mgc.pipelines run pipelines/demo.toml      # once, to train the branches
    python benchmarks/fusion_cache.py [--kind logit_fusion] [--epochs N]

A head is tiny, so its fit costs mostly a fixed ~0.5 s of tf.function tracing; the frozen graph
costs ~1.5 s per epoch on the demo. The ratio therefore grows with epochs: the default uses the
run's own [train] epochs, early stopping off so both sides do the same number.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "pipelines/demo.toml"))
    parser.add_argument("--workdir", default=None, help="the run's workdir (default: the config's)")
    parser.add_argument("--kind", default="logit_fusion",
                        choices=["logit_fusion", "feature_fusion", "attention_fusion"])
    parser.add_argument("--epochs", type=int, default=0, help="epochs per fit (default: the config's [train] epochs)")
    args = parser.parse_args()

    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    from mgc.config import load_config
    from mgc.input import make_dataset
    from mgc.models import build_fusion
    from mgc.models.registry import build, model_params
    from mgc.training.experiment import Experiment
    from mgc.training.search import grid_search

    overrides = {"run.workdir": args.workdir} if args.workdir else {}
    config = load_config(args.config, overrides)
    exp = Experiment(config, progress=False)
    cnn_name = config.train.fusion_cnn
    cnn, mlp = exp.load(cnn_name), exp.load("mlp")
    tracks = exp.split("fusion_train")
    grid = config.grid.get(args.kind, {"width": [32], "depth": [1]})
    base = model_params(config, args.kind, **({"epochs": args.epochs} if args.epochs else {}))
    epochs = int(base["epochs"])
    common = dict(base_params=base, folds=config.search.folds, seed=config.run.seed, patience=epochs,
                  validation_fraction=config.train.validation_fraction, progress=False)

    outputs = "logits" if args.kind == "logit_fusion" else "embedding"
    cache = exp.models_dir / "extracted" / f"{cnn_name}_mlp_{outputs}.npz"
    cache.unlink(missing_ok=True)  # time the cache's computation too
    start = time.perf_counter()
    arrays = exp.extracted(args.kind, cnn_name, cnn, mlp)
    cache_s = time.perf_counter() - start
    dims = (arrays["cnn"].shape[1], arrays["mlp"].shape[1])
    cached = grid_search(grid, tracks, make_model=lambda p, _: build(args.kind, p, exp.shapes, branch_dims=dims),
                         make_data=exp.vector_data(arrays), **common)
    cached_s = time.perf_counter() - start

    def full_graph(params, _tracks):
        return build_fusion(args.kind, cnn, mlp, build(args.kind, params, exp.shapes, branch_dims=dims))

    def raw_data(subset, shuffle, batch_size):
        return make_dataset(config, subset, exp.classes, shuffle=shuffle, batch_size=batch_size)

    start = time.perf_counter()
    graph = grid_search(grid, tracks, make_model=full_graph, make_data=raw_data, **common)
    graph_s = time.perf_counter() - start

    n_fits = len(cached) * config.search.folds
    print(f"{args.kind} grid: {len(cached)} combinations x {config.search.folds} folds x {epochs} epochs "
          f"on {len(tracks)} fusion_train tracks ({config.run.workdir}); early stopping off")
    print(f"through the frozen graph : {graph_s:7.1f} s ({graph_s / n_fits:.2f} s per fit)")
    print(f"on cached branch outputs : {cached_s:7.1f} s (computing the cache once {cache_s:.1f} s, "
          f"then {(cached_s - cache_s) / n_fits:.2f} s per fit)")
    print(f"speed-up                 : {graph_s / cached_s:.1f}x with the cache's computation, "
          f"{graph_s / (cached_s - cache_s):.1f}x for the grid alone "
          "(a run computes each cache once for all its grids)")
    diff = (cached["mean_accuracy"] - graph["mean_accuracy"]).abs().max()
    print(f"mean CV accuracy, largest difference between the two: {diff:.4f} (shuffling order differs)")


if __name__ == "__main__":
    main()

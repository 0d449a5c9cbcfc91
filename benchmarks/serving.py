"""Serving latency of every export and end-to-end ``predict`` throughput, on this machine's CPU.

For each model under ``saved_models/`` (latest version): p50 / p95 latency of one call of
``serving_default`` at batch 1 and batch 32 (inputs of the export's own shapes, after warm-up
calls), and of ``serve_waveform`` at batch 1. Then ``predict`` end to end (decode, windows,
views in worker processes, batched model calls) on the real recordings, in clips (windows) per
second and files per second.

    python -m mgc.pipelines run pipelines/demo.toml   # once, to export the demo's models
    python benchmarks/serving.py [--export-dir saved_models] [--calls 50]

Target (issue 4): spectrogram-only models at batch 1 under 60 ms p50 on 2 cores.
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
REAL_AUDIO = ROOT.parent / "shared" / "data" / "real-audio"


def latency_ms(fn, inputs, calls: int) -> tuple[float, float]:
    """p50 and p95 wall time of ``fn(**inputs)`` in milliseconds, after three warm-up calls."""
    import numpy as np

    for _ in range(3):
        fn(**inputs)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn(**inputs)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export-dir", default=str(ROOT / "saved_models"))
    parser.add_argument("--calls", type=int, default=50, help="timed calls per measurement (batch 32: a fifth)")
    parser.add_argument("--audio", default=str(REAL_AUDIO), help="folder of recordings for the predict run")
    parser.add_argument("--full-size-cnn", action="store_true",
                        help="also time an (untrained) EfficientNet-B0 export at FMA's 128 x 1292, batch 1")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from mgc.export import latest_version, read_assets
    from mgc.predict import predict_files
    from mgc.predict.files import expand_paths
    from mgc.predict.runners import SavedModelRunner

    export_dir = Path(args.export_dir)
    names = sorted(p.name for p in export_dir.iterdir() if p.is_dir() and (p / "1").exists()) \
        if export_dir.is_dir() else []
    if not names:
        sys.exit(f"no exports under {export_dir}; run: python -m mgc.pipelines run pipelines/demo.toml")
    rng = np.random.default_rng(0)
    files = expand_paths([args.audio])
    print(f"{os.cpu_count()} CPU cores, TensorFlow {tf.__version__}; {args.calls} timed calls per figure")
    print("| model | inputs | batch 1 p50 / p95 (ms) | batch 32 p50 / p95 (ms) | serve_waveform batch 1 p50 (ms) "
          "| predict (clips/s) | predict (files/s) |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        assets = read_assets(export_dir / name)
        loaded = tf.saved_model.load(str(latest_version(export_dir / name)))
        spec = assets["spectrogram"]

        def batch(n, signature, spec=spec, assets=assets, loaded=loaded):  # this model's, bound now
            shapes = {"spectrogram": (n, spec["n_mels"], spec["frames"]),
                      "features": (n, len(assets["feature_columns"])), "waveform": (n, assets["clip_samples"])}
            wanted = loaded.signatures[signature].structured_input_signature[1]
            return {k: tf.constant(rng.normal(size=shapes[k]).astype("float32")) for k in wanted}

        serve = loaded.signatures["serving_default"]
        one = latency_ms(serve, batch(1, "serving_default"), args.calls)
        many = latency_ms(serve, batch(32, "serving_default"), max(5, args.calls // 5))
        wave = latency_ms(loaded.signatures["serve_waveform"], batch(1, "serve_waveform"), args.calls)
        runner = SavedModelRunner(export_dir / name)
        predict_files(files[:2], runner, progress=False)  # warm-up: worker processes, traced calls
        start = time.perf_counter()
        rows = predict_files(files, runner, progress=False)
        seconds = time.perf_counter() - start
        clips = sum(r.windows for r in rows if r.status == "ok")
        print(f"| {name} | {', '.join(assets['inputs'])} | {one[0]:.1f} / {one[1]:.1f} | {many[0]:.1f} / {many[1]:.1f} "
              f"| {wave[0]:.1f} | {clips / seconds:.2f} | {len(files) / seconds:.2f} |")
    print(f"predict: {len(files)} real recordings from {args.audio}, clip = {assets['clip_seconds']:g} s windows, "
          "all cores for decoding and features, batch 32")
    if args.full_size_cnn:
        full_size_cnn(export_dir / "cnn", args.calls)


def full_size_cnn(demo_cnn: Path, calls: int) -> None:
    """serving_default latency of EfficientNet-B0 on a 30 s clip's log-mel (128 x 1292, no resize)."""
    import tempfile

    import numpy as np
    import tensorflow as tf

    from mgc.export import export_model, read_assets
    from mgc.models.branches import build_cnn

    assets = {k: v for k, v in read_assets(demo_cnn).items() if k not in ("model", "version")}
    assets.update(clip_seconds=30.0, clip_samples=30 * assets["sample_rate"],
                  spectrogram={**assets["spectrogram"], "frames": 1292})
    model = build_cnn((128, 1292), len(assets["labels"]), dropout=0.5, weights="none", image_size=None)
    with tempfile.TemporaryDirectory() as folder:
        serve = tf.saved_model.load(str(export_model(model, "cnn", assets, folder))).signatures["serving_default"]
        x = tf.constant(np.random.default_rng(0).normal(-40, 10, (1, 128, 1292)).astype("float32"))
        p50, p95 = latency_ms(serve, {"spectrogram": x}, calls)
    print(f"full-size cnn (EfficientNet-B0, 128 x 1292, batch 1): p50 {p50:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()

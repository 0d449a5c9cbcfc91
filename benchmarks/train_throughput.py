"""Training throughput of EfficientNet-B0 at FMA's full size: float32 vs mixed precision, XLA off vs on,
against the input pipeline alone.

The model is the study's CNN at FMA's full log-mel size, no resize:
``mgc.models.branches.build_cnn((128, 1292), n_classes=8, weights="none")``, compiled like
``mgc.training.fit.compile_model`` (Adam, SparseCategoricalCrossentropy from logits, accuracy,
``jit_compile=`` and ``steps_per_execution=``, as ``[train]`` sets them). Variants (``--variants``):

- ``float32``: the reference (ratios are to it), XLA off;
- ``float32+xla``: ``jit_compile=True``;
- ``mixed`` / ``mixed+xla``: ``mixed_float16`` on a GPU, ``mixed_bfloat16`` otherwise
  (``--mixed both`` runs the two; ``--mixed mixed_float16`` or ``mixed_bfloat16`` picks one; the
  names themselves work too, e.g. ``mixed_bfloat16+xla``). The model is built under
  ``keras.mixed_precision.set_dtype_policy(name)``, the policy goes back to ``"float32"`` after;
  the logits layer is float32 (as ``[train] mixed_precision`` keeps it); under ``mixed_float16``
  Keras wraps Adam in a LossScaleOptimizer.

The data is a real cache made with mgc's own writer (``mgc.cache.store.ShardStore`` +
``mgc.cache.records.serialize``, as ``mgc.cache.builder.fill`` writes it): random float16 log-mels
of 128 x 1292 (30 s at 22050 Hz, hop 512, 128 mels: the default ``[audio]`` / ``[spectrogram]``,
recorded in ``<workdir>/config.json`` with ``manifest.csv``), 8 genres, ``--tracks`` tracks in
shards of 128 (``pipelines/fma_top5.toml``'s ``[extract] shard_size``); kept in ``--workdir`` and
reused. It is read through ``mgc.input.make_dataset(..., shuffle=True)``, batched at
``--batch-size``, repeated: first alone (an iterator pulled batch by batch inside a
``tf.function``, as Keras's trainer pulls it), then the same dataset feeding ``model.fit``. The
input alone is timed before and after the training variants (best counts); if it delivers well
over training's examples/s, the model, not tf.data, is the bottleneck.

Each variant is one ``model.fit`` of 1 + ``--rounds`` epochs of ``--steps`` steps (rounded up
to a multiple of ``--steps-per-execution``): the first epoch is the warm-up (tracing, XLA
compilation, the shuffle buffer's first fill), reported separately and not timed; the best
timed epoch counts. Variants run one after another in one process, so the ratios compare
figures taken minutes apart on the same machine: read the ratios. No validation data. Kernels
are not forced deterministic (``[run] deterministic = false``) unless ``--deterministic``.
``KERAS_BACKEND`` is set to tensorflow if unset (the input pipeline is tf.data in any case).

On a CPU (about 3 minutes on 2 cores: float32 and mixed_bfloat16, XLA off; the defaults
without a GPU)::

    python benchmarks/train_throughput.py --steps 3 --batch-size 8

and with the XLA variants too (about 20 minutes on 2 cores: XLA compiles EfficientNet's training
step for 4 to 6 minutes per variant on a CPU)::

    python benchmarks/train_throughput.py --steps 3 --batch-size 8 --variants float32,float32+xla,mixed,mixed+xla

On a GPU (the defaults with a GPU: --steps 50 --batch-size 128, all four variants, mixed_float16;
``--mixed both`` adds mixed_bfloat16, ``--steps-per-execution 8`` as the recipe sets it)::

    python benchmarks/train_throughput.py --steps 50 --batch-size 128 --json train_throughput.json

    python benchmarks/train_throughput.py [--steps N] [--batch-size B] [--steps-per-execution K]
        [--variants float32,float32+xla,mixed,mixed+xla] [--mixed auto|mixed_float16|mixed_bfloat16|both]
        [--rounds 1] [--input-steps N] [--tracks N] [--deterministic] [--workdir DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHAPE = (128, 1292)  # FMA's full-size log-mel: 30 s at 22050 Hz, hop 512, 128 mels
GENRES = ("Electronic", "Experimental", "Folk", "Hip-Hop", "Instrumental", "International", "Pop", "Rock")  # FMA-8
SHARD_SIZE = 128  # pipelines/fma_top5.toml's [extract] shard_size
MIXED = ("mixed_float16", "mixed_bfloat16")
ALL_VARIANTS = "float32,float32+xla,mixed,mixed+xla"  # the default with a GPU
CPU_VARIANTS = "float32,mixed"  # the default without: XLA's CPU compile takes minutes per variant, its steps are slower
MARKER = "train_throughput.json"  # <workdir>/: what the cache there was made with


def settings(workdir: str, batch_size: int) -> dict:
    """Config overrides: the default clip (30 s at 22050 Hz, 128 mels, hop 512) spelled out, so the
    cache is 128 x 1292 whatever the defaults become."""
    return {"run.name": "train_throughput", "run.workdir": workdir, "run.seed": 0, "dataset.kind": "synthetic",
            "dataset.genres": list(GENRES), "audio.sample_rate": 22050, "audio.duration": 30.0,
            "spectrogram.n_mels": 128, "spectrogram.n_fft": 2048, "spectrogram.hop_length": 512,
            "extract.shard_size": SHARD_SIZE, "input.batch_size": batch_size}


def make_config(workdir: str, batch_size: int):
    from mgc.config import load_config
    from mgc.input import spectrogram_shape

    config = load_config(None, settings(workdir, batch_size))
    if spectrogram_shape(config) != SHAPE:
        sys.exit(f"the config gives a {spectrogram_shape(config)} log-mel, not {SHAPE}")
    return config


def tracks_table(n_tracks: int):
    """The synthetic manifest: track ids, made-up paths, genres in turn."""
    import pandas as pd

    ids = [f"{i:06d}" for i in range(n_tracks)]
    return pd.DataFrame({"track_id": ids, "path": [f"synthetic/{t}.wav" for t in ids],
                         "genre": [GENRES[i % len(GENRES)] for i in range(n_tracks)], "split": "baseline_train"})


def ensure_cache(config, tracks, seed: int = 0) -> None:
    """Write ``tracks``' random log-mels into ``config``'s cache with mgc's shard writer, unless
    ``--workdir`` already holds this very cache (same settings, tracks and seed)."""
    import numpy as np

    from mgc.cache.records import serialize
    from mgc.cache.store import Shard, ShardStore, cache_dir, cache_settings
    from mgc.features import N_FEATURES
    from mgc.io import atomic_write_csv, atomic_write_json

    workdir = Path(config.run.workdir)
    marker = workdir / MARKER
    want = {"cache": cache_settings(config), "tracks": len(tracks), "shard_size": SHARD_SIZE, "seed": seed}
    store = ShardStore(cache_dir(config), N_FEATURES)
    if marker.is_file() and json.loads(marker.read_text()) == json.loads(json.dumps(want)) and store.shard_numbers():
        print(f"data: reusing {len(tracks)} tracks in {store.directory}", flush=True)
        return
    if store.directory.exists() and not marker.is_file() and any(store.directory.iterdir()):
        sys.exit(f"{store.directory} holds a cache this script did not make; choose another --workdir")
    start = time.perf_counter()
    mb = len(tracks) * SHAPE[0] * SHAPE[1] * 2 / 1e6
    print(f"data: writing {len(tracks)} random {SHAPE[0]} x {SHAPE[1]} float16 log-mels ({mb:.0f} MB) "
          f"into {store.directory} ...", flush=True)
    workdir.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    store.directory.mkdir(parents=True, exist_ok=True)
    with store.lock():
        for path in store.directory.glob("shard-*"):  # an earlier run of this script with other settings
            path.unlink()
        store.open(cache_settings(config))
        rng = np.random.default_rng(seed)
        number, shard = 0, Shard()
        for track_id, path in zip(tracks["track_id"], tracks["path"]):
            spectrogram = rng.uniform(-80.0, 0.0, SHAPE).astype(np.float16)  # dB, like a top_db = 80 log-mel
            features = rng.standard_normal(N_FEATURES).astype(np.float32)
            shard.track_ids.append(track_id)
            shard.paths.append(path)
            shard.stamps.append("synthetic")
            shard.features.append(features)
            shard.records.append(serialize(track_id, spectrogram, features))
            if len(shard) >= SHARD_SIZE:
                store.write(number, shard)
                number, shard = number + 1, Shard()
        if len(shard):
            store.write(number, shard)
    atomic_write_csv(workdir / "manifest.csv", tracks, index=False)
    atomic_write_json(workdir / "config.json", config.to_dict())
    atomic_write_json(marker, want)
    print(f"data: {len(store.shard_numbers())} shards in {time.perf_counter() - start:.0f} s", flush=True)


# -- variants --------------------------------------------------------------------------------
def parse_variants(text: str, mixed: str, gpu: bool) -> list[tuple[str, str, bool]]:
    """``(label, dtype policy, jit_compile)`` for each comma-separated name."""
    if mixed == "auto":
        mixed_policies = ["mixed_float16" if gpu else "mixed_bfloat16"]
    elif mixed == "both":
        mixed_policies = list(MIXED)
    else:
        mixed_policies = [mixed]
    out = []
    for name in (n.strip() for n in text.split(",") if n.strip()):
        base, plus, suffix = name.partition("+")
        if plus and suffix != "xla":
            sys.exit(f"unknown variant {name!r}: the only suffix is +xla")
        jit = bool(plus)
        if base == "float32":
            policies = ["float32"]
        elif base == "mixed":
            policies = mixed_policies
        elif base in MIXED:
            policies = [base]
        else:
            sys.exit(f"unknown variant {name!r}; choose from float32, mixed, {', '.join(MIXED)} (each with +xla)")
        for policy in policies:
            label = policy + ("+xla" if jit else "")
            if label not in [v[0] for v in out]:
                out.append((label, policy, jit))
    return out


def build_model(policy: str):
    """The study's CNN at 128 x 1292 built under ``policy``, the policy reset to float32 after. Its
    logits layer is float32 under any policy (``mgc.models.branches.LOGITS``), and so is the loss."""
    import keras

    from mgc.models.branches import build_cnn

    keras.mixed_precision.set_dtype_policy(policy)
    try:
        model = build_cnn(SHAPE, n_classes=len(GENRES), weights="none")
        if keras.backend.standardize_dtype(model.output.dtype) != "float32":  # a build_cnn without float32 logits
            logits = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(model.output)
            model = keras.Model(model.input, logits, name=model.name)  # same policy: LossScaleOptimizer for fp16
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    return model


def epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Seconds of each epoch; the loss is read at each epoch's end, so the device has finished."""

        def __init__(self):
            super().__init__()
            self.seconds, self.loss = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.loss.append(float((logs or {}).get("loss", float("nan"))))
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def train_variant(dataset, policy: str, jit: bool, args) -> dict:
    import keras

    from mgc.training.fit import compile_model

    keras.backend.clear_session()
    gc.collect()
    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    model = compile_model(build_model(policy), 1e-3, jit_compile=jit, steps_per_execution=args.steps_per_execution)
    built = time.perf_counter() - start
    timer = epoch_timer()
    model.fit(dataset, epochs=1 + args.rounds, steps_per_epoch=args.steps, callbacks=[timer], verbose=0,
              shuffle=False)
    timed = min(timer.seconds[1:])
    out = {"policy": policy, "jit_compile": jit, "jit_effective": bool(model.jit_compile),  # Keras may refuse XLA
           "optimizer": type(model.optimizer).__name__,
           "params": model.count_params(), "build_s": built, "warmup_s": timer.seconds[0],
           "epoch_s": timer.seconds[1:], "examples_per_s": args.steps * args.batch_size / timed,
           "final_loss": timer.loss[-1]}
    del model
    return out


def time_input(dataset, args) -> dict:
    """Examples/s of pulling ``--input-steps`` batches from one iterator in a tf.function (after a
    warm-up pull of ``--steps`` batches: tracing and the shuffle buffer's first fill)."""
    import tensorflow as tf

    @tf.function
    def pull(iterator, n):
        count = tf.constant(0, tf.int64)
        for _ in tf.range(n):
            _, labels = next(iterator)
            count += tf.shape(labels, out_type=tf.int64)[0]
        return count

    iterator = iter(dataset)
    start = time.perf_counter()
    pull(iterator, tf.constant(args.steps, tf.int64)).numpy()
    warmup = time.perf_counter() - start
    best = 0.0
    for _ in range(args.rounds):
        start = time.perf_counter()
        n = int(pull(iterator, tf.constant(args.input_steps, tf.int64)).numpy())
        best = max(best, n / (time.perf_counter() - start))
    return {"examples_per_s": best, "warmup_s": warmup}


# -- the report ------------------------------------------------------------------------------
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def device_name(gpus) -> str:
    import tensorflow as tf

    if not gpus:
        return f"no GPU; {os.cpu_count()} CPU cores ({cpu_name()})"
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    return f"{len(gpus)} GPU ({', '.join(names)}; training on the first); {os.cpu_count()} CPU cores ({cpu_name()})"


def print_report(result: dict) -> None:
    variants, feed = result["variants"], result["input"]
    ref = variants.get("float32", {}).get("examples_per_s")
    print()
    print(f"{result['device']}")
    print(", ".join(f"{k} {v}" for k, v in result["versions"].items()) + f"; commit {result['commit']}, "
          f"{result['date']}")
    print(f"EfficientNet-B0 (weights none, {result['params']:,} parameters) on {SHAPE[0]} x {SHAPE[1]} log-mels, "
          f"8 classes, batch {result['batch_size']}, steps_per_execution {result['steps_per_execution']}; "
          f"{result['steps']} timed steps per epoch, best of {result['rounds']} epoch(s) after a warm-up epoch; "
          f"{result['tracks']} cached tracks, shuffled (buffer {result['shuffle_buffer']}); deterministic kernels "
          f"{'on' if result['deterministic'] else 'off'}; {result['total_s']:.0f} s in all")
    print()
    print("| variant | examples/s | vs float32 (no XLA) | warm-up epoch (s) | build (s) |")
    print("|---|---|---|---|---|")
    for label, v in variants.items():
        if "error" in v:
            print(f"| {label} | failed (below) | – | – | – |")
            continue
        vs = f"{v['examples_per_s'] / ref:.2f}x" if ref else "–"
        if v["jit_compile"] and not v["jit_effective"]:
            label += " (Keras turned XLA off: op determinism)"
        print(f"| {label} | {v['examples_per_s']:.1f} | {vs} | {v['warmup_s']:.1f} | {v['build_s']:.1f} |")
    rates = {k: v["examples_per_s"] for k, v in variants.items() if "error" not in v}
    print()
    if "error" in feed:
        print("input pipeline alone: failed (below)")
    else:
        line = (f"input pipeline alone (make_dataset, shuffled, batch {result['batch_size']}): "
                f"{feed['examples_per_s']:.1f} examples/s")
        if rates:
            best = max(rates, key=rates.get)
            line += f" = {feed['examples_per_s'] / rates[best]:.1f}x the best training figure ({best})"
        print(line)
    for label, v in (*variants.items(), ("input", feed)):
        if "error" in v:
            print(f"\n{label} failed:\n{v['error']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=0, help="timed steps per epoch (default: 50 on a GPU, else 3)")
    parser.add_argument("--batch-size", type=int, default=0, help="default: 128 on a GPU, else 8")
    parser.add_argument("--steps-per-execution", type=int, default=1, help="Keras compile's steps_per_execution")
    parser.add_argument("--variants", default="",
                        help=f"comma-separated: float32, mixed, mixed_float16, mixed_bfloat16, each optionally +xla "
                             f"(default: {ALL_VARIANTS} on a GPU, {CPU_VARIANTS} without)")
    parser.add_argument("--mixed", choices=("auto", *MIXED, "both"), default="auto",
                        help="what 'mixed' means (auto: mixed_float16 on a GPU, mixed_bfloat16 otherwise)")
    parser.add_argument("--rounds", type=int, default=1, help="timed epochs per variant (and input runs); best counts")
    parser.add_argument("--input-steps", type=int, default=0,
                        help="batches per timed input-alone run (default: 4 x --steps, at least 20)")
    parser.add_argument("--tracks", type=int, default=0,
                        help="cached tracks (default: 8 batches, at least 512), rounded up to whole batches")
    parser.add_argument("--deterministic", action="store_true",
                        help="TensorFlow's deterministic kernels, as [run] deterministic = true")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "mgc-bench-train-throughput"),
                        help="where the synthetic cache is made (once, then reused)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        sys.exit(f"KERAS_BACKEND={keras.backend.backend()}: this benchmark times Keras's TensorFlow trainer; "
                 "unset it or set KERAS_BACKEND=tensorflow")
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    gpus = tf.config.list_physical_devices("GPU")
    args.batch_size = args.batch_size or (128 if gpus else 8)
    args.steps = args.steps or (50 if gpus else 3)
    spe = max(1, args.steps_per_execution)
    if args.steps % spe:
        rounded = -(-args.steps // spe) * spe
        print(f"--steps {args.steps} rounded up to {rounded}, a multiple of --steps-per-execution {spe}")
        args.steps = rounded
    args.steps_per_execution = spe
    args.rounds = max(1, args.rounds)
    args.input_steps = args.input_steps or max(20, 4 * args.steps)
    n_tracks = args.tracks or max(512, 8 * args.batch_size)
    n_tracks = -(-n_tracks // args.batch_size) * args.batch_size
    variants = parse_variants(args.variants or (ALL_VARIANTS if gpus else CPU_VARIANTS), args.mixed, bool(gpus))
    workdir = str(Path(args.workdir).resolve())

    from mgc.input import make_dataset

    config = make_config(workdir, args.batch_size)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    tracks = tracks_table(n_tracks)
    ensure_cache(config, tracks)
    began = time.perf_counter()
    dataset = make_dataset(config, tracks, list(GENRES), batch_size=args.batch_size, shuffle=True,
                           views=("spectrogram",), drop_remainder=True).repeat()
    result = {"device": device_name(gpus), "gpu": bool(gpus), "commit": commit(),
              "date": datetime.date.today().isoformat(), "python": platform.python_version(),
              "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
              "batch_size": args.batch_size, "steps": args.steps, "steps_per_execution": spe, "rounds": args.rounds,
              "input_steps": args.input_steps, "tracks": n_tracks, "shuffle_buffer": config.input.shuffle_buffer,
              "deterministic": args.deterministic, "params": 0, "variants": {}, "input": {}}
    feeds = []

    def run_input():
        try:
            feeds.append(time_input(dataset, args))
            print(f"  input alone: {feeds[-1]['examples_per_s']:.1f} examples/s "
                  f"(warm-up {feeds[-1]['warmup_s']:.1f} s)", flush=True)
        except Exception:  # noqa: BLE001 - reported with the table
            feeds.append({"error": traceback.format_exc()})

    run_input()
    for label, policy, jit in variants:
        print(f"  {label}: building, warm-up epoch, {args.rounds} timed epoch(s) of {args.steps} steps ...",
              flush=True)
        try:
            v = result["variants"][label] = train_variant(dataset, policy, jit, args)
            result["params"] = v["params"]
            print(f"  {label}: {v['examples_per_s']:.1f} examples/s (warm-up epoch {v['warmup_s']:.1f} s, "
                  f"timed epochs {', '.join(f'{s:.1f}' for s in v['epoch_s'])} s, loss {v['final_loss']:.3f})",
                  flush=True)
        except Exception:  # noqa: BLE001 - one variant's failure is reported, the others still run
            result["variants"][label] = {"policy": policy, "jit_compile": jit, "error": traceback.format_exc()}
            print(f"  {label}: FAILED", flush=True)
    run_input()
    good = [f for f in feeds if "error" not in f]
    result["input"] = ({"examples_per_s": max(f["examples_per_s"] for f in good), "runs": good} if good
                       else feeds[-1])
    rates = {k: v["examples_per_s"] for k, v in result["variants"].items() if "error" not in v}
    ref = rates.get("float32")
    for v in result["variants"].values():
        if "error" not in v:
            v["ratio_to_float32"] = v["examples_per_s"] / ref if ref else None
    if rates and good:
        result["input_over_best_training"] = result["input"]["examples_per_s"] / max(rates.values())
    result["total_s"] = time.perf_counter() - began
    print_report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()

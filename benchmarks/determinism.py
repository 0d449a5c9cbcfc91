"""Reproducibility: what determinism costs, and how far results move with the machine's kernels.

Extracts the config's dataset once, then runs the model stages (grid, train, fuse, evaluate,
report) in fresh workdirs that share that extraction, under these variants:

- ``default``   : [run] deterministic = true, the backend's own thread count (what users get);
- ``repeat``    : the same again: its files must be byte-identical to ``default``'s;
- ``fast``      : [run] deterministic = false (TensorFlow may pick non-deterministic kernels);
- ``threads=1`` : [run] threads = 1 (one intra-op thread, like a 1-core machine);
- ``onednn-off``: TF_ENABLE_ONEDNN_OPTS=0 (TensorFlow's Eigen kernels instead of oneDNN's,
                  as on a CPU or build without oneDNN).

Prints one row per variant: wall time and its ratio to ``default`` (measured in this run), each
model's test accuracy, and whether summary.json and every test_predictions.csv equal
``default``'s byte for byte.

    python benchmarks/determinism.py                   # the demo (about 30 minutes on 2 cores)
    python benchmarks/determinism.py --config smoke    # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("train", "fuse", "evaluate", "report")  # train runs the branch grids first
VARIANTS = {
    "default": ([], {}),
    "repeat": ([], {}),
    "fast": (["--set", "run.deterministic=false"], {}),
    "threads=1": (["--set", "run.threads=1"], {}),
    "onednn-off": ([], {"TF_ENABLE_ONEDNN_OPTS": "0"}),
}


def mgc(*args: str, env: dict | None = None) -> None:
    done = subprocess.run([sys.executable, "-m", "mgc.pipelines", *args, "--quiet"], cwd=ROOT,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"mgc {' '.join(args)} failed:\n{done.stderr[-3000:]}")


def result_files(workdir: Path) -> dict[str, bytes]:
    files = [workdir / "results" / "summary.json", workdir / "results" / "comparison.csv",
             *sorted(workdir.glob("models/*/test_predictions.csv"))]
    return {p.relative_to(workdir).as_posix(): p.read_bytes() for p in files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="demo", help="a config file or bundled name (default: demo)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of the variants")
    parser.add_argument("--keep", metavar="DIR", help="keep the workdirs under DIR (default: a temporary folder)")
    args = parser.parse_args()
    names = [n for n in args.variants.split(",") if n]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or "default" not in names:
        sys.exit(f"--variants: unknown {unknown}; 'default' is required (the reference)")

    root = Path(args.keep or tempfile.mkdtemp(prefix="mgc-determinism-"))
    base = root / "extracted"
    if not (base / "feature_stats.json").is_file():
        print(f"prepare + extract {args.config} -> {base}", flush=True)
        mgc("prepare", args.config, "--workdir", str(base))
        mgc("extract", args.config, "--workdir", str(base))
    rows, reference = [], None
    for name in names:
        overrides, env = VARIANTS[name]
        workdir = root / name
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.copytree(base, workdir, symlinks=True)
        start = time.perf_counter()
        for stage in STAGES:
            mgc(stage, args.config, "--workdir", str(workdir), *overrides, env=env)
        seconds = time.perf_counter() - start
        files = result_files(workdir)
        if name == "default":
            reference = (seconds, files)
        summary = json.loads(files["results/summary.json"])
        accuracy = {m: v["test_accuracy"] for m, v in summary["models"].items()}
        same = sorted(files) == sorted(reference[1]) and all(files[k] == reference[1][k] for k in files)
        rows.append((name, seconds, seconds / reference[0], accuracy, same))
        print(f"{name}: {seconds:.0f} s, identical to default: {same}", flush=True)

    models = list(rows[0][3])
    print(f"\n{args.config}: model stages ({', '.join(STAGES)}) per variant; {os.cpu_count()} CPUs\n")
    print("| variant | seconds | vs default | " + " | ".join(models) + " | files identical to default |")
    print("|---" * (len(models) + 4) + "|")
    for name, seconds, ratio, accuracy, same in rows:
        cells = " | ".join(f"{100 * accuracy.get(m, float('nan')):.2f} %" for m in models)
        print(f"| {name} | {seconds:.0f} | {ratio:.2f}x | {cells} | {'yes' if same else 'no'} |")
    print(f"\nworkdirs: {root}" + ("" if args.keep else " (temporary)"))


if __name__ == "__main__":
    main()

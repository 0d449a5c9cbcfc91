"""Training throughput per Keras backend on CPU, against the input pipeline's own throughput.

For ``mlp``, ``small_cnn`` and ``cnn`` (EfficientNet-B0 on a small image), under TensorFlow, JAX
and PyTorch: examples per second of ``model.fit`` on the real tf.data input
(``mgc.input.make_dataset`` with the model's views, shuffled, as the train stage feeds it), the
model built by the registry and compiled like ``mgc.training.fit.compile_model``. Next to it,
the same dataset read with no model, the way that backend's trainer reads it (in graph for
TensorFlow, every batch converted to numpy for JAX and torch): if the input delivers many times
more examples per second than training consumes, the model, not tf.data, is the bottleneck.

The data is a small synthetic run made with the real stages (``prepare`` + ``extract`` of
``pipelines/smoke.toml``, 4 s clips -> 128 x 173 log-mel, 96 clips; kept in ``--workdir`` and
reused). ``KERAS_BACKEND`` is fixed per process, so each backend has its own worker process
(``--worker BACKEND``): it builds, compiles and runs a warm-up epoch of every model (tracing /
compilation, reported but not timed), then times what the parent asks. The parent times the
backends in turn, model by model, for ``--rounds`` rounds and keeps each figure's best, so that
a ratio compares figures taken seconds apart, not a whole backend's run apart. A timed
figure is one run of about ``--seconds`` of epochs (fast models: many epochs, calibrated in the
first round; slow ones: one epoch). No validation data: only training steps are timed. A backend
that does not import is reported as not installed; a model that fails under a backend as failed,
with its traceback. Each backend keeps its own threading (TensorFlow's and XLA's thread pools,
torch's OpenMP: one thread per core; ``--torch-threads`` sets torch's). Machines are noisy: read
the ratios, measured in one run.

    python benchmarks/backends.py [--backends tensorflow,jax,torch] [--models mlp,small_cnn,cnn]
                                  [--seconds 2] [--rounds 2] [--batch-size 32] [--workdir DIR]
                                  [--torch-threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CONFIG = ROOT / "pipelines" / "smoke.toml"
BACKENDS = ("tensorflow", "jax", "torch")
MODELS = ("mlp", "small_cnn", "cnn")
RESULT = "RESULT "  # prefix of the JSON lines a worker answers with on stdout
MODE = {"tensorflow": "tf.function", "jax": "jax.jit (XLA)", "torch": "eager"}  # compile_model's "auto" on CPU


def overrides(workdir: str, clips_per_genre: int) -> dict:
    """The smoke config, a few more clips, into ``workdir``."""
    return {"run.workdir": workdir, "dataset.clips_per_genre": clips_per_genre}


def ensure_workdir(workdir: str, clips_per_genre: int) -> None:
    """Run ``prepare`` + ``extract`` with the real CLI unless ``workdir`` already holds this config's data."""
    from mgc.config import load_config

    config = load_config(CONFIG, overrides(workdir, clips_per_genre))
    done = Path(workdir) / "config.json"
    if (Path(workdir) / "feature_stats.json").is_file() and done.is_file() \
            and json.loads(done.read_text()) == json.loads(json.dumps(config.to_dict())):
        print(f"data: reusing {workdir}", flush=True)
        return
    print(f"data: prepare + extract {CONFIG.relative_to(ROOT)} into {workdir} ...", flush=True)
    sets = [f"--set=dataset.clips_per_genre={clips_per_genre}"]
    for stage in ("prepare", "extract"):
        subprocess.run([sys.executable, "-m", "mgc.pipelines", stage, str(CONFIG), "--workdir", workdir, *sets,
                        "--quiet"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


# -- worker: one backend per process, kept alive so that backends are timed in turn -------------
def _timed(run_epochs, n_examples: int, seconds: float, epochs: int = 0) -> dict:
    """Examples/s of ``run_epochs(epochs)``. With no ``epochs``, untimed runs of 1, 2, 4... epochs
    until one lasts a quarter of ``seconds``, then one run of about ``seconds`` (or that last run
    itself if it lasted ``seconds``: slow models are timed on their one epoch)."""
    if not epochs:
        epochs = 1
        while True:
            start = time.perf_counter()
            run_epochs(epochs)
            took = time.perf_counter() - start
            if took >= seconds:
                return {"rate": epochs * n_examples / took, "epochs": epochs, "seconds": took}
            if took >= seconds / 4:
                break
            epochs *= 2
        epochs = max(1, round(epochs * seconds / took))
    start = time.perf_counter()
    run_epochs(epochs)
    took = time.perf_counter() - start
    return {"rate": epochs * n_examples / took, "epochs": epochs, "seconds": took}


def _send(payload: dict) -> None:
    print(RESULT + json.dumps(payload), flush=True)


def worker(args) -> None:
    """Set up every model (build, compile, warm-up epoch), say READY, then time what stdin asks."""
    os.environ["KERAS_BACKEND"] = args.worker
    try:
        import keras

        module = __import__(args.worker)
    except ImportError as exc:
        return _send({"error": f"not installed ({exc})"})
    if keras.backend.backend() != args.worker:
        return _send({"error": f"KERAS_BACKEND={args.worker} gave {keras.backend.backend()}"})
    ready = {"versions": {"keras": keras.__version__}, "models": {}}
    if args.worker == "torch":
        if args.torch_threads:
            module.set_num_threads(args.torch_threads)
        ready["threads"] = module.get_num_threads()
    import logging

    import tensorflow as tf

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    from mgc.config import load_config
    from mgc.models.registry import INPUTS, model_params
    from mgc.training.experiment import Experiment
    from mgc.training.fit import compile_model

    ready["versions"].update({"tensorflow": tf.__version__, args.worker: module.__version__})
    keras.utils.set_random_seed(0)
    config = load_config(CONFIG, overrides(args.workdir, args.clips_per_genre))
    exp = Experiment(config, progress=False)
    tracks = exp.manifest  # every extracted track (all splits): a throughput test, not an evaluation
    n = ready["examples"] = len(tracks)
    runs = {}  # (model, "train" | "input") -> run_epochs(epochs)
    for name in args.models.split(","):
        try:
            params = model_params(config, name, **({"batch_size": args.batch_size} if args.batch_size else {}))
            ds = exp.branch_data(name)(tracks, True, int(params["batch_size"]))  # as train feeds it: shuffled

            if args.worker == "tensorflow":  # Keras's TF trainer pulls batches inside its tf.function

                @tf.function
                def drain(ds):
                    count = tf.constant(0, tf.int64)
                    for _ in ds:
                        count += 1
                    return count

                def iterate(epochs, ds=ds, drain=drain):
                    for _ in range(epochs):
                        drain(ds)
            else:  # JAX's and torch's trainers get every batch as numpy (TFDatasetAdapter)

                def iterate(epochs, ds=ds):
                    for _ in range(epochs):
                        for x, y in ds:
                            for t in (*x.values(), y):
                                t.numpy()

            iterate(1)
            start = time.perf_counter()
            model = compile_model(exp.branch_builder(name)(params, None), params["learning_rate"])
            built = time.perf_counter() - start
            runs[name, "train"] = lambda e, model=model, ds=ds: model.fit(ds, epochs=e, verbose=0, shuffle=False)
            runs[name, "input"] = iterate
            start = time.perf_counter()
            runs[name, "train"](1)  # tracing / compilation
            ready["models"][name] = {"batch": int(params["batch_size"]), "views": list(INPUTS[name]),
                                     "params": model.count_params(), "build_s": built,
                                     "warmup_s": time.perf_counter() - start}
        except Exception:  # noqa: BLE001 - one model's failure is reported, the others still run
            ready["models"][name] = {"error": traceback.format_exc()}
    _send(ready)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("quit"):
            break
        try:
            run = runs[request["model"], request["what"]]
            _send(_timed(run, n, args.seconds, request.get("epochs", 0)))
        except Exception:  # noqa: BLE001
            _send({"error": traceback.format_exc()})


# -- parent: start the workers, time models in turn, print the table ---------------------------
class Worker:
    """One backend's worker process, spoken to in JSON lines."""

    def __init__(self, backend: str, args):
        self.backend, self.err = backend, tempfile.TemporaryFile("w+")
        command = [sys.executable, __file__, "--worker", backend, "--models", args.models,
                   "--seconds", str(args.seconds), "--workdir", args.workdir,
                   "--clips-per-genre", str(args.clips_per_genre), "--batch-size", str(args.batch_size),
                   "--torch-threads", str(args.torch_threads)]
        self.proc = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True, env={**os.environ, "KERAS_BACKEND": backend})

    def receive(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(RESULT):
                return json.loads(line[len(RESULT):])
        self.proc.wait()
        self.err.seek(0)
        return {"error": f"worker exited {self.proc.returncode}:\n{self.err.read()[-3000:]}", "crashed": True}

    def ask(self, **request) -> dict:
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        return self.receive()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        self.proc.wait()
        self.err.close()


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def print_table(backends: list[str], ready: dict, best: dict, models: list[str]) -> None:
    """``best[backend, model, "train"]`` and ``best[backend, views, "input"]``: best examples/s of the rounds."""
    print("| model | backend | train (examples/s) | vs TensorFlow | input alone (examples/s) | input / train "
          "| warm-up epoch (s) |")
    print("|---|---|---|---|---|---|---|")
    for name in models:
        for b in backends:
            info = ready[b]
            if "error" in info:
                reason = "not installed" if info["error"].startswith("not installed") else "worker failed (below)"
                print(f"| {name} | {b} | {reason} | – | – | – | – |")
                continue
            threads = f", {info['threads']} thread{'s' * (info['threads'] != 1)}" if "threads" in info else ""
            label = f"{b} ({MODE[b]}{threads})"
            if "error" in info["models"][name]:
                print(f"| {name} | {label} | failed (below) | – | – | – | – |")
                continue
            train = best.get((b, name, "train"))
            feed = best.get((b, tuple(info["models"][name]["views"]), "input"))
            if train is None or feed is None:
                print(f"| {name} | {label} | failed (below) | – | – | – | – |")
                continue
            ref = best.get(("tensorflow", name, "train"))
            vs = f"{train / ref:.2f}x" if ref else "–"
            print(f"| {name} | {label} | {train:.0f} | {vs} | {feed:.0f} | {feed / train:.1f}x "
                  f"| {info['models'][name]['warmup_s']:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated Keras backends")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models (mlp, small_cnn, cnn)")
    parser.add_argument("--seconds", type=float, default=2.0, help="about how long each timed measurement runs")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds (backends in turn); the best counts")
    parser.add_argument("--batch-size", type=int, default=32, help="0: the config's [input] batch_size (8)")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "mgc-bench-backends"),
                        help="the synthetic run's workdir (made once, then reused)")
    parser.add_argument("--clips-per-genre", type=int, default=32, help="3 genres x this many 4 s clips")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="torch.set_num_threads (default: torch's own, one per core)")
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.workdir = str(Path(args.workdir).resolve())
    unknown = set(args.models.split(",")) - set(MODELS)
    if unknown:
        sys.exit(f"unknown model {sorted(unknown)[0]!r}; choose from {', '.join(MODELS)}")

    if args.worker:
        worker(args)
        return

    backends = [b for b in args.backends.split(",") if b]
    if set(backends) - set(BACKENDS):
        sys.exit(f"unknown backend {sorted(set(backends) - set(BACKENDS))[0]!r}; choose from {', '.join(BACKENDS)}")
    models = args.models.split(",")
    ensure_workdir(args.workdir, args.clips_per_genre)
    began = time.perf_counter()
    workers, ready, errors = {}, {}, []
    try:
        for b in backends:  # one at a time: no worker's set-up overlaps another's timing
            start = time.perf_counter()
            workers[b] = Worker(b, args)
            ready[b] = workers[b].receive()
            if "error" in ready[b]:
                print(f"{b}: {ready[b]['error'].splitlines()[0]}", flush=True)
                if not ready[b]["error"].startswith("not installed"):
                    errors.append(f"{b}: {ready[b]['error']}")
                continue
            setup = ", ".join(f"{m} {v['build_s'] + v['warmup_s']:.1f} s" if "error" not in v else f"{m} FAILED"
                              for m, v in ready[b]["models"].items())
            print(f"{b}: ready in {time.perf_counter() - start:.0f} s (build + warm-up epoch: {setup})", flush=True)
            errors += [f"{b} / {m} failed to build or warm up:\n{v['error']}"
                       for m, v in ready[b]["models"].items() if "error" in v]
        live = [b for b in backends if "error" not in ready[b]]
        best, epochs = {}, {}  # best[backend, model, "train"], best[backend, views, "input"]: examples/s
        for r in range(args.rounds):
            order = live[r % len(live):] + live[:r % len(live)] if live else []  # rotate who goes first
            fed = set()  # (backend, views) whose input alone was timed this round
            for name in models:
                for b in order:
                    if "error" in ready[b] or "error" in ready[b]["models"][name]:
                        continue
                    views = tuple(ready[b]["models"][name]["views"])
                    for what in ("input", "train"):
                        if what == "input" and (b, views) in fed:
                            continue  # cnn and small_cnn read the same dataset
                        got = workers[b].ask(model=name, what=what, epochs=epochs.get((b, name, what), 0))
                        if "error" in got:
                            errors.append(f"{b} / {name} ({what}) failed:\n{got['error']}")
                            ready[b]["models"][name]["error"] = got["error"]
                            if got.get("crashed"):
                                ready[b] = {"error": got["error"]}
                            break
                        epochs[b, name, what] = got["epochs"]
                        key = (b, views, what) if what == "input" else (b, name, what)
                        best[key] = max(best.get(key, 0.0), got["rate"])
                        fed.add((b, views))
                        print(f"  round {r + 1}: {name:9s} {b:10s} {'input alone' if what == 'input' else 'train':11s}"
                              f" {got['rate']:8.1f} examples/s ({got['epochs']} epoch{'s' * (got['epochs'] != 1)}"
                              f" in {got['seconds']:.1f} s)", flush=True)
    finally:
        for w in workers.values():
            w.close()
    total = time.perf_counter() - began

    from mgc.config import load_config

    config = load_config(CONFIG, overrides(args.workdir, args.clips_per_genre))
    cnn_image = config.models.get("cnn", {}).get("image_size")
    n = next((r["examples"] for r in ready.values() if "examples" in r), "?")
    versions = {}
    for r in ready.values():
        versions.update(r.get("versions", {}))
    batch = next((m["batch"] for r in ready.values() for m in r.get("models", {}).values() if "batch" in m),
                 args.batch_size)
    print()
    print(f"{os.cpu_count()} CPU cores ({cpu_name()}), Python {platform.python_version()}; "
          + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"data: {n} synthetic 4 s clips ({CONFIG.name}: 128 x 173 log-mel + 518 features), batch {batch}, shuffled; "
          f"cnn: EfficientNet-B0 from scratch on a {' x '.join(map(str, cnn_image or []))} image. Best of "
          f"{args.rounds} rounds of ~{args.seconds:g} s per figure, backends in turn; {total:.0f} s in all")
    print()
    print_table(backends, ready, best, models)
    for error in errors:
        print(f"\n{error}")


if __name__ == "__main__":
    main()

"""``python -m mgc.pipelines <stage> CONFIG [overrides]``: the command line of every stage.

User mistakes print one ``error:`` line and exit 2; Ctrl-C keeps finished work and exits 130.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from mgc import interrupt
from mgc.errors import UserError

STAGES = {
    "prepare": "read the dataset, split it (40/40/20 by default) and write <workdir>/manifest.csv",
    "extract": "decode every track, compute log-mel + FMA's 518 features into the TFRecord cache "
    "(parallel, resumable), write features.csv and failures.csv",
    "grid": "k-fold grid search of the branch models ([grid.<model>]) on baseline_train",
    "train": "train the branch models (cnn, small_cnn, mlp, joint) on baseline_train with their best parameters",
    "fuse": "tune and train the fusion heads on fusion_train over the frozen branches",
    "evaluate": "evaluate every trained model once on the test split",
    "report": "write results/: summary.json, comparison table and figure, per-model reports and plots",
    "summary": "print model.summary() of the configured models (nested models expanded)",
    "export": "write the trained models as TensorFlow SavedModels (TF Serving layout, next version) under "
    "[export] dir (default saved_models/), with a models.config for serving them all",
    "run": "all stages in order (prepare, extract, train, fuse, evaluate, report, export), resuming finished work",
}
MODEL_STAGES = ("grid", "train", "fuse", "evaluate", "report", "summary", "export", "run")

EPILOG = """configs: a TOML file, or one that comes with mgc by name (demo, smoke, fma_top5, gtzan).

examples:
  {prog} run demo
  {prog} prepare fma_top5 --set dataset.metadata_dir=/data/fma_metadata --set dataset.audio_dir=/data/fma_large
  {prog} extract fma_top5 --workdir data/runs/fma --workers 8
  {prog} extract fma_top5 --workdir /shared/fma --shard $SLURM_ARRAY_TASK_ID/8
  {prog} extract fma_top5 --workdir /shared/fma --merge
  {prog} run my_experiment.toml --set train.epochs=5
  {prog} predict --model saved_models/attention_fusion song.mp3 music/ --output genres.csv
"""


def program_name() -> str:
    """``mgc`` when run as the console script, else ``python -m mgc.pipelines`` (the same program)."""
    return "mgc" if os.path.basename(sys.argv[0]) == "mgc" else "python -m mgc.pipelines"


def build_parser() -> argparse.ArgumentParser:
    prog = program_name()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="mgc: music genre classification by multi-modal fusion. Each stage reads a TOML "
        "experiment config (see pipelines/) and writes under its [run] workdir.",
        epilog=EPILOG.format(prog=prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from mgc import __version__

    parser.add_argument("--version", action="version", version=f"mgc {__version__}")
    sub = parser.add_subparsers(dest="stage", metavar="STAGE", title="stages")
    for name, help_text in STAGES.items():
        stage = sub.add_parser(name, help=help_text, description=help_text)
        stage.add_argument("config_file", nargs="?", metavar="CONFIG",
                           help="experiment config: a TOML file, or a bundled one by name (demo, smoke, fma_top5, gtzan)")
        stage.add_argument("--config", dest="config_opt", metavar="CONFIG", help="same as the positional CONFIG")
        stage.add_argument("--workdir", help="override [run] workdir")
        stage.add_argument("--seed", type=int, help="override [run] seed")
        stage.add_argument(
            "--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
            help="override any config value (TOML literal), e.g. --set audio.duration=10 (repeatable)",
        )
        stage.add_argument("--quiet", action="store_true", help="no progress bars")
        if name in ("extract", "run"):
            stage.add_argument("--workers", type=int, help="extraction processes (default: all cores)")
            stage.add_argument("--retry-failures", action="store_true", help="extract failed tracks again")
        if name == "extract":
            stage.add_argument(
                "--shard", metavar="I/N",
                help="be worker I of N (0-based: 0/N .. N-1/N, e.g. $SLURM_ARRAY_TASK_ID/N or "
                "$JOB_COMPLETION_INDEX/N): extract only part I of the manifest (a stable hash of the track id) "
                "into the cache's own part-I-of-N/ folder, so N machines can share the cache; resumable; "
                "writes no features.csv (see --merge)",
            )
            stage.add_argument(
                "--merge", action="store_true",
                help="after the --shard workers: extract nothing, check every track is done (else name the "
                "unfinished parts), merge the workers' shards into the cache index and write features.csv, "
                "failures.csv and feature_stats.json as a plain extract would (a plain extract also merges them)",
            )
        if name in MODEL_STAGES:
            stage.add_argument("--models", metavar="A,B", help="only these models (default: [train] models)")
        if name in ("export", "run"):
            stage.add_argument("--export-dir", metavar="DIR", help="override [export] dir (default: saved_models)")
    from mgc.pipelines.predict import add_parser as add_predict_parser  # no experiment config: own arguments

    add_predict_parser(sub)
    return parser


def _config(args):
    from mgc.config import load_config, parse_override

    path = args.config_opt or args.config_file
    if path is None:
        raise UserError(f"no config given: {program_name()} {args.stage} demo (or a TOML file)")
    if args.config_opt and args.config_file and args.config_opt != args.config_file:
        raise UserError("give the config once, either positionally or with --config")
    overrides = dict(parse_override(item) for item in args.set)
    if args.workdir:
        overrides["run.workdir"] = args.workdir
    if args.seed is not None:
        overrides["run.seed"] = args.seed
    if getattr(args, "export_dir", None):
        overrides["export.dir"] = args.export_dir
    return load_config(path, overrides)


def _dispatch(args) -> int:
    if args.stage == "predict":  # needs no experiment config (mgc/pipelines/predict.py)
        from mgc.pipelines.predict import run as run_predict

        return run_predict(args)
    config = _config(args)
    progress = not args.quiet
    if args.stage in ("prepare", "run"):
        from mgc.pipelines.prepare import prepare

        prepare(config)
    if args.stage in ("extract", "run"):
        from mgc.pipelines.extract import run_extract

        run_extract(config, workers=args.workers, retry_failures=args.retry_failures, progress=progress,
                    shard=getattr(args, "shard", None), merge=getattr(args, "merge", False))
    if args.stage in MODEL_STAGES:
        from mgc.pipelines import modelling

        steps = ["train", "fuse", "evaluate", "report"] if args.stage == "run" else [args.stage]
        for step in steps:
            getattr(modelling, f"{step}_stage")(config, args.models, progress)
        if args.stage == "run":
            modelling.export_stage(config, args.models, progress, skip_unchanged=True)
    if args.stage == "run":
        print(f"run: done; results under {config.run.workdir}/results (summary.json, comparison.md), "
              f"models exported under {config.export_dir}/")
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's CUDA-probe noise on CPU machines
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices for last, smaller batches
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.stage is None:
        parser.print_help()
        return 2
    with interrupt.handling():
        return _run(args)


def _run(args) -> int:
    """Run the parsed command; user mistakes are one ``error:`` line (exit 2), Ctrl-C exit 130."""
    try:
        status = _dispatch(args)
        interrupt.check()  # Ctrl-C whose KeyboardInterrupt a library swallowed: still an interruption
        return status
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unwritable workdir, full disk, unreadable dataset folder ...
        print(f"error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished work is kept; run the same command again to resume", file=sys.stderr)
        return 130

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
from mgc.pipelines.stages import STAGES, Context, Option

CONFIG_OPTIONS = (  # every stage that reads an experiment config takes these, before its own options
    Option(("config_file",), {"nargs": "?", "metavar": "CONFIG", "help": "experiment config: a TOML file, or a "
                              "bundled one by name (demo, smoke, fma_top5, fma_medium, gtzan)"}),
    Option(("--config",), {"dest": "config_opt", "metavar": "CONFIG", "help": "same as the positional CONFIG"}),
    Option(("--workdir",), {"help": "override [run] workdir"}),
    Option(("--seed",), {"type": int, "help": "override [run] seed"}),
    Option(("--set",), {"action": "append", "default": [], "metavar": "SECTION.KEY=VALUE",
                        "help": "override any config value (TOML literal), e.g. --set audio.duration=10 (repeatable)"}),
    Option(("--quiet",), {"action": "store_true", "help": "no progress bars"}),
)

EPILOG = """configs: a TOML file, or one that comes with mgc by name (demo, smoke, fma_top5, fma_medium,
gtzan).

examples:
  {prog} run demo
  {prog} prepare fma_top5 --set dataset.metadata_dir=/data/fma_metadata --set dataset.audio_dir=/data/fma_large
  {prog} extract fma_top5 --workdir data/runs/fma --workers 8
  {prog} extract fma_top5 --workdir /shared/fma --part $SLURM_ARRAY_TASK_ID/8
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
    for stage in STAGES.values():
        if stage.add_parser is not None:  # predict: its own arguments, no experiment config
            stage.add_parser(sub)
            continue
        command = sub.add_parser(stage.name, help=stage.help, description=stage.help)
        for option in (*CONFIG_OPTIONS, *stage.options):
            option.add_to(command)
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
    if getattr(args, "repeats", None) is not None:
        overrides["run.repeats"] = args.repeats
    if getattr(args, "export_dir", None):
        overrides["export.dir"] = args.export_dir
    return load_config(path, overrides)


def _dispatch(args) -> int:
    stage = STAGES[args.stage]
    if not stage.needs_config:
        return stage.run(args)
    stage.run(Context(_config(args), args))
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
        if status != interrupt.INTERRUPTED:  # a stage that returns it has said what it kept
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
        return interrupt.INTERRUPTED

"""The stage table: the CLI is built from it, and ``run`` is its stages in order, sharing one
Context and so one Experiment."""

from __future__ import annotations

import argparse
import dataclasses

from mgc.config import load_config
from mgc.pipelines import stages
from mgc.pipelines.cli import CONFIG_OPTIONS, build_parser


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_parser_has_every_stage_of_the_table_with_its_own_options():
    commands = subparsers(build_parser())
    assert list(commands) == list(stages.STAGES)
    for name, stage in stages.STAGES.items():
        flags = {flag for action in commands[name]._actions for flag in action.option_strings}
        if stage.needs_config:
            expected = {f for option in (*CONFIG_OPTIONS, *stage.options) for f in option.flags if f.startswith("-")}
            assert flags - {"-h", "--help"} == expected, name
        else:
            assert "--model" in flags
    assert stages.RUN == ("prepare", "extract", "train", "fuse", "evaluate", "report", "export")
    assert set(stages.RUN) <= set(stages.STAGES)


def test_run_is_the_table_in_order_with_one_shared_experiment(monkeypatch, tmp_path):
    import mgc.training.experiment

    built, seen = [], []

    class FakeExperiment:
        def __init__(self, config, progress=True, outputs=None):
            built.append(self)

    monkeypatch.setattr(mgc.training.experiment, "Experiment", FakeExperiment)
    for name in stages.RUN:
        def record(ctx, name=name):
            seen.append((name, id(ctx), ctx.resuming, None if name in ("prepare", "extract") else ctx.experiment()))

        monkeypatch.setitem(stages.STAGES, name, dataclasses.replace(stages.STAGES[name], run=record))
    config = load_config("smoke", {"run.workdir": str(tmp_path)})
    lines = []
    stages.run_all(stages.Context(config, argparse.Namespace(quiet=True), echo=lines.append))
    assert [s[0] for s in seen] == list(stages.RUN)
    assert len({s[1] for s in seen}) == 1 and all(s[2] for s in seen)  # one context, resuming
    assert len(built) == 1 and all(s[3] is built[0] for s in seen[2:])
    assert lines[-1].startswith("run: done; results under")


def test_the_experiment_is_built_on_first_use_and_then_shared(monkeypatch, tmp_path):
    import mgc.training.experiment

    built = []
    monkeypatch.setattr(mgc.training.experiment, "Experiment", lambda *a, **k: built.append(object()) or built[-1])
    ctx = stages.Context(load_config("smoke", {"run.workdir": str(tmp_path)}))
    assert built == []  # prepare and extract run before any Experiment can exist
    first = ctx.experiment()
    assert ctx.experiment() is first and built == [first]
    assert ctx.progress and ctx.models is None and ctx.option("workers") is None


def test_repeats_run_the_model_stages_per_seed_into_their_own_folders(monkeypatch, tmp_path):
    """[run] repeats = 3: train, fuse, evaluate and report again for seeds 1 and 2 (each with its
    own Experiment writing under repeats/seed-<s>/) before the run's own report and export."""
    import mgc.training.experiment

    built, seen = [], []

    class FakeExperiment:
        def __init__(self, config, progress=True, outputs=None):
            built.append((config.run.seed, outputs))

    monkeypatch.setattr(mgc.training.experiment, "Experiment", FakeExperiment)
    for name in stages.RUN:
        def record(ctx, name=name):
            ctx.experiment()
            seen.append((name, ctx.config.run.seed, ctx.outputs))

        monkeypatch.setitem(stages.STAGES, name, dataclasses.replace(stages.STAGES[name], run=record))
    config = load_config("smoke", {"run.workdir": str(tmp_path), "run.repeats": 3})
    stages.run_all(stages.Context(config, argparse.Namespace(quiet=True), echo=lambda *_: None))
    model_stages = ["train", "fuse", "evaluate", "report"]
    assert [s[0] for s in seen] == ["prepare", "extract", "train", "fuse", "evaluate", *model_stages,
                                    *model_stages, "report", "export"]
    assert [s[1] for s in seen] == [0] * 5 + [1] * 4 + [2] * 4 + [0, 0]
    assert built == [(0, None), (1, tmp_path / "repeats" / "seed-1"), (2, tmp_path / "repeats" / "seed-2")]


def test_a_stage_that_reports_its_own_ctrl_c_is_not_reported_twice(monkeypatch, capsys):
    """predict and similar say what an interrupt kept and return 130: the CLI adds no line of its own."""
    import signal
    import sys

    from mgc import interrupt
    from mgc.pipelines import cli

    def stage(args):
        try:
            interrupt._on_sigint(signal.SIGINT, None)  # what Ctrl-C runs, in the middle of the work
        except KeyboardInterrupt:
            print("interrupted: 3 rows kept in out.csv", file=sys.stderr)
            return interrupt.INTERRUPTED

    monkeypatch.setattr(cli, "_dispatch", stage)
    assert cli.main(["predict", "--undo-tags", "tags-undo.json"]) == 130
    assert capsys.readouterr().err == "interrupted: 3 rows kept in out.csv\n"

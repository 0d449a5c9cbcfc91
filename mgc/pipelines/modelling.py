"""Stages ``grid``, ``train``, ``fuse``, ``evaluate``, ``report`` and ``summary``."""

from __future__ import annotations

from mgc.config import Config
from mgc.errors import UserError
from mgc.models import FROZEN_FUSIONS
from mgc.models.registry import BRANCHES, MODELS, build, check_config, model_params


def selected(config: Config, only: str | None) -> list[str]:
    """The run's models ([train] models), optionally narrowed by ``--models a,b``."""
    check_config(config)
    names = list(config.train.models)
    if only:
        wanted = [n.strip() for n in only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in MODELS]
        if unknown:
            raise UserError(f"unknown model {unknown[0]!r}; choose from {', '.join(MODELS)}")
        names = [n for n in names if n in wanted] or wanted
    fusions = [n for n in names if n in FROZEN_FUSIONS]
    if fusions:  # fusions need their frozen branches
        names = [n for n in (config.train.fusion_cnn, "mlp") if n not in names] + names
    return names


def _experiment(config, progress):
    from mgc.training.experiment import Experiment

    return Experiment(config, progress=progress)


def grid_stage(config: Config, only=None, progress=True, echo=print) -> None:
    from mgc.training.protocol import search_model

    exp = _experiment(config, progress)
    tracks = exp.split("baseline_train")
    for name in [n for n in selected(config, only) if n in BRANCHES]:
        if name not in config.grid:
            echo(f"grid {name}: no [grid.{name}] table, nothing to search")
            continue
        search_model(exp, name, tracks, exp.branch_builder(name), exp.branch_data(name), echo)


def train_stage(config: Config, only=None, progress=True, echo=print) -> None:
    from mgc.training.protocol import train_branches

    train_branches(_experiment(config, progress), selected(config, only), echo)


def fuse_stage(config: Config, only=None, progress=True, echo=print) -> None:
    from mgc.training.protocol import train_fusions

    train_fusions(_experiment(config, progress), selected(config, only), echo)


def evaluate_stage(config: Config, only=None, progress=True, echo=print) -> dict:
    from mgc.training.protocol import evaluate

    return evaluate(_experiment(config, progress), selected(config, only), echo)


def report_stage(config: Config, only=None, progress=True, echo=print) -> None:
    from mgc.reports.run import write_report
    from mgc.training.protocol import evaluate

    exp = _experiment(config, progress)
    names = [n for n in selected(config, only) if exp.model_path(n).is_file()]
    write_report(exp, evaluate(exp, names, echo=lambda *_: None), echo)


def summary_stage(config: Config, only=None, progress=True, echo=print) -> None:
    """``model.summary()`` of each selected model: the trained one if it exists, else as configured."""
    from mgc.training.experiment import Experiment

    exp = Experiment(config, progress)
    for name in selected(config, only):
        if exp.model_path(name).is_file():
            model = exp.load(name)
        elif name in BRANCHES:
            model = build(name, model_params(config, name), exp.shapes, mean=exp.scaler.mean,
                          variance=exp.scaler.scale**2)
        else:
            echo(f"{name}: not trained yet (a fusion needs its trained branches); run the fuse stage")
            continue
        model.summary(expand_nested=True, print_fn=lambda line, **_: echo(line))


def export_stage(config: Config, only=None, progress=True, echo=print, skip_unchanged=False) -> None:
    """Every trained model of the run as the next SavedModel version under [export] dir (from a
    TensorFlow-backend process when this backend cannot write SavedModels: PyTorch)."""
    from mgc.export.run import export_with_tensorflow, exports_here

    exp = _experiment(config, progress)
    names = selected(config, only)
    missing = [n for n in names if not exp.model_path(n).is_file()]
    if missing:
        raise UserError(f"model {missing[0]!r} is not trained yet ({exp.model_path(missing[0])}); run the train stage")
    if not exports_here():
        return export_with_tensorflow(config, names, skip_unchanged=skip_unchanged, echo=echo)
    from mgc.export import export_run

    export_run(exp, names, config.export_dir, skip_unchanged=skip_unchanged, echo=echo)

"""The model stages: ``grid``, ``train``, ``fuse``, ``evaluate``, ``report`` and ``summary``
(``export``: :mod:`mgc.pipelines.export`). Each takes the command's
:class:`~mgc.pipelines.stages.Context`, whose Experiment is shared by every stage of one
``run``. Keras is imported only when a stage runs, so ``--help`` and config errors stay fast.
"""

from __future__ import annotations

from mgc.config import Config, check_models
from mgc.config.models import MODELS, model_params
from mgc.contract import BASELINES, BRANCHES, FROZEN_FUSIONS, fusion_branches
from mgc.errors import UserError


def selected(config: Config, only: str | None) -> list[str]:
    """The run's models ([train] models), or with ``--models a,b`` those (a fusion brings its branches)."""
    check_models(config)
    names = list(config.train.models)
    if only:
        wanted = [n.strip() for n in only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in MODELS]
        if unknown:
            raise UserError(f"unknown model {unknown[0]!r}; choose from {', '.join(MODELS)}")
        # the config's order, then any asked for that the config does not list
        names = [n for n in names if n in wanted] + [n for n in wanted if n not in names]
    needed = [b for n in names if n in FROZEN_FUSIONS for b in fusion_branches(n, config.train.fusion_cnn)]
    return list(dict.fromkeys(b for b in needed if b not in names)) + names  # fusions bring their frozen branches


def _plot_grid(table, name, path):
    """The grid search's figure (results/grid_<model>.png), drawn as the search finishes."""
    from mgc.reports import plot_grid

    plot_grid(table, name, path)


def grid(ctx) -> None:
    """Grid-search each selected branch (and scikit-learn baseline) that has a ``[grid.<name>]`` table."""
    from mgc.training.baselines import search_baseline
    from mgc.training.protocol import search_model

    exp = ctx.experiment()
    tracks = exp.split("baseline_train")
    for name in [n for n in selected(ctx.config, ctx.models) if n in BRANCHES or n in BASELINES]:
        if name not in ctx.config.grid:
            ctx.echo(f"grid {name}: no [grid.{name}] table, nothing to search")
        elif name in BASELINES:
            search_baseline(exp, name, tracks, ctx.echo, _plot_grid)
        else:
            search_model(exp, name, tracks, exp.branch_builder(name), exp.branch_data(name), ctx.echo, _plot_grid)


def train(ctx) -> None:
    from mgc.training.protocol import train_branches

    train_branches(ctx.experiment(), selected(ctx.config, ctx.models), ctx.echo, _plot_grid)


def fuse(ctx) -> None:
    from mgc.training.protocol import train_fusions

    train_fusions(ctx.experiment(), selected(ctx.config, ctx.models), ctx.echo, _plot_grid)


def evaluate(ctx) -> dict:
    from mgc.training.protocol import evaluate as evaluate_models

    return evaluate_models(ctx.experiment(), selected(ctx.config, ctx.models), ctx.echo)


def report(ctx) -> None:
    from mgc.reports.run import write_report
    from mgc.training.protocol import evaluate as evaluate_models

    exp = ctx.experiment()
    names = [n for n in selected(ctx.config, ctx.models) if exp.model_path(n).is_file()]
    write_report(exp, evaluate_models(exp, names, echo=lambda *_: None), ctx.echo,
                 repeats=None if ctx.is_repeat else _repeat_summaries(ctx))


def _repeat_summaries(ctx) -> dict[int, dict] | None:
    """{seed: summary.json} of the ``[run] repeats`` seeds that have been reported (None: no repeats)."""
    import json

    from mgc.training.experiment import repeat_outputs, repeat_seeds

    if ctx.config.run.repeats < 2:
        return None
    others = repeat_seeds(ctx.config)[1:]
    paths = {seed: repeat_outputs(ctx.config, seed) / "results" / "summary.json" for seed in others}
    found = {seed: json.loads(path.read_text()) for seed, path in paths.items() if path.is_file()}
    missing = [s for s in others if s not in found]
    if missing:
        ctx.echo(f"report: [run] repeats = {ctx.config.run.repeats}, but seed(s) {', '.join(map(str, missing))} have "
                 "no results yet (the run stage trains them)")
    return found


def summary(ctx) -> None:
    """``model.summary()`` of each selected model: the trained one if it exists, else as configured
    (a scikit-learn baseline: the estimator's repr)."""
    from mgc.models.baselines import build_baseline
    from mgc.models.registry import build

    exp = ctx.experiment()
    for name in selected(ctx.config, ctx.models):
        if name in BASELINES:  # a scikit-learn pipeline has no summary(): its repr
            path = exp.model_path(name)
            if path.is_file():
                ctx.echo(f"{name}: trained ({path})\n{exp.load(name)!r}")
            else:
                model = build_baseline(name, model_params(ctx.config, name), ctx.config.run.seed)
                ctx.echo(f"{name}: as configured (not trained yet)\n{model!r}")
            continue
        if exp.model_path(name).is_file():
            model = exp.load(name)
        elif name in BRANCHES:
            scaler = exp.scaler_of(name)
            model = build(name, model_params(ctx.config, name), exp.shapes, mean=scaler.mean,
                          variance=scaler.scale**2)
        else:
            ctx.echo(f"{name}: not trained yet (a fusion needs its trained branches); run the fuse stage")
            continue
        model.summary(expand_nested=True, print_fn=lambda line, **_: ctx.echo(line))

"""Every stage of the command line, declared once: its name, its help, its own options and the
function it runs. :mod:`mgc.pipelines.cli` builds the parser from this table, and ``run`` is the
table's stages in order (:data:`RUN`), sharing one :class:`Context` and so one Experiment.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mgc.config import Config
from mgc.pipelines import export as export_stage
from mgc.pipelines import modelling
from mgc.pipelines import predict as predict_stage
from mgc.pipelines import similar as similar_stage


@dataclass(frozen=True)
class Option:
    """One command-line option: ``argparse.add_argument(*flags, **settings)``."""

    flags: tuple[str, ...]
    settings: dict[str, Any]

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(*self.flags, **self.settings)


@dataclass
class Context:
    """What a stage runs with: the validated config, the parsed options, and the run's
    :class:`~mgc.training.experiment.Experiment`, built once when a model stage first needs it."""

    config: Config
    options: argparse.Namespace = field(default_factory=argparse.Namespace)
    echo: Callable[..., None] = print
    resuming: bool = False  # inside ``run``: skip exports whose model did not change
    outputs: Path | None = None  # a repeat's models/ and results/ (None: the workdir's)
    _experiment: Any = None

    @property
    def progress(self) -> bool:
        return not getattr(self.options, "quiet", False)

    @property
    def models(self) -> str | None:
        """``--models a,b`` (None: the config's [train] models)."""
        return getattr(self.options, "models", None)

    def option(self, name: str, default=None):
        return getattr(self.options, name, default)

    def experiment(self):
        """The run's shared Experiment (splits, classes, scaler, paths), built on first use."""
        if self._experiment is None:
            from mgc.training.experiment import Experiment

            self._experiment = Experiment(self.config, progress=self.progress, outputs=self.outputs)
        return self._experiment

    @property
    def is_repeat(self) -> bool:
        return self.outputs is not None

    def repeats(self) -> list["Context"]:
        """One context per extra seed of ``[run] repeats`` (seed + 1, ...): the same config with that
        seed, writing under ``<workdir>/repeats/seed-<s>/``, its lines prefixed with the seed."""
        from mgc.training.experiment import repeat_outputs, repeat_seeds

        out = []
        for seed in repeat_seeds(self.config)[1:]:
            config = dataclasses.replace(self.config, run=dataclasses.replace(self.config.run, seed=seed))
            out.append(Context(config, self.options, _prefixed(self.echo, f"[seed {seed}] "), self.resuming,
                               repeat_outputs(self.config, seed)))
        return out


def _prefixed(echo: Callable[..., None], prefix: str) -> Callable[..., None]:
    """``echo`` with ``prefix`` before every line."""
    def prefixed(text="", *args, **kwargs):
        echo("\n".join(prefix + line for line in str(text).split("\n")), *args, **kwargs)

    return prefixed


@dataclass(frozen=True)
class Stage:
    """A stage: ``mgc <name> CONFIG [options]`` runs ``run(context)``."""

    name: str
    help: str
    run: Callable[[Context], Any]
    options: tuple[Option, ...] = ()
    needs_config: bool = True  # predict takes a model instead; it builds its own parser (add_parser)
    add_parser: Callable | None = None


WORKERS = Option(("--workers",), {"type": int, "help": "extraction processes (default: all cores)"})
RETRY = Option(("--retry-failures",), {"action": "store_true", "help": "extract failed tracks again"})
PART = Option(("--part",), {
    "metavar": "I/N",
    "help": "be worker I of N (0-based: 0/N .. N-1/N, e.g. $SLURM_ARRAY_TASK_ID/N or $JOB_COMPLETION_INDEX/N): "
    "extract only part I of the manifest (a stable hash of the track id) into the cache's own part-I-of-N/ "
    "folder, so N machines can share the cache; resumable; writes no features.csv (see --merge). "
    "(--shard I/N, its old name, still works in this release)",
})
SHARD = Option(("--shard",), {"metavar": "I/N", "dest": "deprecated_shard", "help": argparse.SUPPRESS})
MERGE = Option(("--merge",), {
    "action": "store_true",
    "help": "after the --part workers: extract nothing, check every track is done (else name the unfinished "
    "parts), merge the workers' shards into the cache index and write features.csv, failures.csv and "
    "feature_stats.json as a plain extract would (a plain extract also merges them)",
})
REPEATS = Option(("--repeats",), {
    "type": int, "metavar": "N",
    "help": "train, evaluate and report every model N times, with seeds seed .. seed+N-1 on the same split and "
    "cache (extra seeds under <workdir>/repeats/); the report adds mean ± std across them (overrides [run] "
    "repeats; exports and predict use the run's own seed)",
})
MODELS = Option(("--models",), {"metavar": "A,B", "help": "only these models (default: [train] models)"})
EXPORT_DIR = Option(("--export-dir",), {"metavar": "DIR", "help": "override [export] dir (default: saved_models)"})


def prepare(ctx: Context) -> None:
    from mgc.pipelines.prepare import prepare as prepare_manifest

    prepare_manifest(ctx.config, echo=ctx.echo)


def extract(ctx: Context) -> None:
    from mgc.pipelines.extract import run_extract

    part = ctx.option("part")
    if ctx.option("deprecated_shard") is not None:
        if part is not None:
            from mgc.errors import UserError

            raise UserError("give --part only (--shard is its old name)")
        print("warning: --shard is deprecated and will be removed in the next release; use --part (same I/N)",
              file=sys.stderr)
        part = ctx.option("deprecated_shard")
    run_extract(ctx.config, workers=ctx.option("workers"), retry_failures=ctx.option("retry_failures", False),
                progress=ctx.progress, part=part, merge=ctx.option("merge", False), echo=ctx.echo)


def run_all(ctx: Context) -> None:
    """Every stage of :data:`RUN` in order, resuming finished work, with one shared Experiment;
    with ``[run] repeats`` the model stages again for each extra seed before the run's report."""
    ctx.resuming = True
    for name in RUN:
        if name == "report":
            for repeat in ctx.repeats():
                for stage in REPEATED:
                    STAGES[stage].run(repeat)
        STAGES[name].run(ctx)
    ctx.echo(f"run: done; results under {ctx.config.run.workdir}/results (summary.json, comparison.md), "
             f"models exported under {ctx.config.export_dir}/")


STAGES: dict[str, Stage] = {stage.name: stage for stage in (
    Stage("prepare", "read the dataset, split it ([split] method: stratified 40/40/20 by default, FMA's official or "
          "GTZAN's fault-filtered split) and write <workdir>/manifest.csv", prepare),
    Stage("extract", "decode every track, compute log-mel + FMA's 518 features into the TFRecord cache "
          "(parallel, resumable), write features.csv and failures.csv", extract, (WORKERS, RETRY, PART, SHARD, MERGE)),
    Stage("grid", "k-fold grid search of the branch models ([grid.<model>]) on baseline_train", modelling.grid,
          (MODELS,)),
    Stage("train", "train the branch models (cnn, small_cnn, mlp, musicnn_probe, joint) and the scikit-learn "
          "baselines (svm, logreg; musicnn_svm, musicnn_logreg on the pretrained view) on baseline_train with their "
          "best parameters", modelling.train, (MODELS,)),
    Stage("fuse", "tune and train the fusion heads on fusion_train over the frozen branches", modelling.fuse,
          (MODELS,)),
    Stage("evaluate", "evaluate every trained model once on the test split", modelling.evaluate, (MODELS,)),
    Stage("report", "write results/: summary.json, comparison table and figure, per-model reports and plots",
          modelling.report, (MODELS, REPEATS)),
    Stage("summary", "print model.summary() of the configured models (nested models expanded)", modelling.summary,
          (MODELS,)),
    Stage("export", "write the trained models as TensorFlow SavedModels (TF Serving layout, next version) under "
          "[export] dir (default saved_models/), with a models.config for serving them all", export_stage.export,
          (MODELS, EXPORT_DIR)),
    Stage("run", "all stages in order (prepare, extract, train, fuse, evaluate, report, export), resuming finished "
          "work", run_all, (WORKERS, RETRY, MODELS, EXPORT_DIR, REPEATS)),
    Stage("predict", predict_stage.HELP, predict_stage.run, needs_config=False, add_parser=predict_stage.add_parser),
    Stage("similar", similar_stage.HELP, similar_stage.run, needs_config=False, add_parser=similar_stage.add_parser),
)}
RUN = ("prepare", "extract", "train", "fuse", "evaluate", "report", "export")  # what ``run`` runs, in order
REPEATED = ("train", "fuse", "evaluate", "report")  # what ``[run] repeats`` runs again per extra seed

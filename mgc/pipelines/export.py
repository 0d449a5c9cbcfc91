"""Stage ``export``: a run's trained models as TensorFlow SavedModels (mgc.export)."""

from __future__ import annotations

from mgc.errors import UserError
from mgc.pipelines.modelling import selected


def export(ctx) -> None:
    """Every selected trained model as the next SavedModel version under [export] dir; inside
    ``run``, models whose export is up to date are skipped. A backend that cannot write
    SavedModels (PyTorch) exports from a TensorFlow-backend process (:mod:`mgc.export.__main__`).
    The scikit-learn baselines are not exported (a line each names their ``model.joblib``).
    ``--models musicnn-msd`` (or ``musicnn-mtt``): the pretrained tagger, no run needed (:mod:`mgc.export.tagger`)."""
    from mgc.export.run import export_run, export_with_tensorflow, exports_here, skip_baselines
    from mgc.features.musicnn_tags import TAGGERS

    wanted = [n.strip() for n in (ctx.models or "").split(",") if n.strip()]
    taggers = [n for n in wanted if n in TAGGERS]
    if taggers:
        from mgc.export.savedmodel import write_models_config
        from mgc.export.tagger import export_tagger

        if not exports_here():
            raise UserError(f"exporting {taggers[0]} needs the TensorFlow or JAX backend: KERAS_BACKEND=tensorflow")
        for name in taggers:
            ctx.echo(f"export {name}: {export_tagger(name, ctx.config.export_dir)}")
        if len(taggers) == len(wanted):
            configs = write_models_config(ctx.config.export_dir)
            ctx.echo(f"export: TensorFlow Serving config for all models -> {configs[0]}")
            return
    exp = ctx.experiment()
    only = ",".join(n for n in wanted if n not in TAGGERS) if taggers else ctx.models
    names = skip_baselines(exp, selected(ctx.config, only), ctx.echo)  # scikit-learn: no SavedModel
    if not names:
        return
    missing = [n for n in names if not exp.model_path(n).is_file()]
    if missing:
        raise UserError(f"model {missing[0]!r} is not trained yet ({exp.model_path(missing[0])}); run the train stage")
    if not exports_here():
        return export_with_tensorflow(ctx.config, names, skip_unchanged=ctx.resuming, echo=ctx.echo)
    export_run(exp, names, ctx.config.export_dir, skip_unchanged=ctx.resuming, echo=ctx.echo)

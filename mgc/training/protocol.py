"""The FMA fusion study's protocol as stages: grid-search and train the branches (and FMA's
scikit-learn baselines, :mod:`mgc.training.baselines`) on ``baseline_train``,
tune and train the fusion heads on ``fusion_train`` with the branches frozen, evaluate every
model once on ``test``. Each stage skips models that are already done, so ``run`` resumes.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd

from mgc.contract import BASELINES, BRANCHES, FROZEN_FUSIONS, GATED_FUSIONS, fusion_branches
from mgc.models import build_fusion
from mgc.models.registry import build, model_params
from mgc.splits import validation_slice
from mgc.training import recipe
from mgc.training.baselines import predict_baseline, train_baseline
from mgc.training.distribute import distribution, setup
from mgc.training.experiment import Experiment
from mgc.training.fit import fit
from mgc.training.gates import write_test_gates
from mgc.training.search import grid_search, search_once


def search_model(exp: Experiment, name: str, tracks, make_model, make_data, echo, plot=None) -> dict:
    """Grid-search Keras model ``name`` on ``tracks`` if it has a [grid.<name>] table; returns the
    best combination (:func:`mgc.training.search.search_once`)."""
    config = exp.config

    def search(csv):
        with distribution(config) as replicas:  # [distribute]: every fold trains data-parallel
            return grid_search(
                config.grid[name], tracks, base_params=model_params(config, name),
                make_model=replicas.wrap_model(make_model), make_data=replicas.wrap_data(make_data),
                folds=config.search.folds, max_epochs=config.search.max_epochs, seed=config.run.seed,
                patience=config.train.patience, warmup_epochs=config.train.warmup_epochs,
                compile_options=training_options(config, name),
                fine_tune=lambda params: recipe.fine_tune(config, name, params),
                validation_fraction=config.train.validation_fraction, group_by_artist=config.search.group_by_artist,
                out_csv=csv, progress=exp.progress, label=f"grid {name}", weighted=replicas.active,
            )

    return search_once(exp, name, search, echo, plot)


def training_options(config, name: str) -> dict:
    """:func:`mgc.training.fit.compile_model` keywords of model ``name``: its labels, XLA, steps per execution."""
    return {"soft_labels": recipe.soft_labels(config, name), **recipe.compile_options(config)}


def _train(exp: Experiment, name: str, tracks, make_model, make_data, best: dict, echo) -> keras.Model:
    """Refit ``name`` with its best parameters on ``tracks`` (minus a validation slice, unless the
    split has published validation tracks); the
    MLP's standardisation is the stage's (feature_stats.json, fitted on baseline_train)."""
    config = exp.config
    params = model_params(config, name, **best)
    validation = exp.early_stopping()
    if validation is None:
        train, validation = validation_slice(tracks, config.train.validation_fraction, config.run.seed)
    else:  # a published split's validation side
        train = tracks
    batch = int(params["batch_size"])  # the global batch, also under [distribute]
    with distribution(config) as replicas:  # built, compiled and fitted under [distribute]'s strategy
        keras.utils.set_random_seed(config.run.seed)
        model = replicas.prepare(make_model(params, None))
        history = fit(model, replicas.data(make_data(train, True, batch)),
                      replicas.data(make_data(validation, False, batch)),
                      learning_rate=params["learning_rate"], epochs=int(params["epochs"]),
                      patience=config.train.patience, warmup_epochs=config.train.warmup_epochs,
                      log_dir=exp.model_dir(name), verbose=2 if exp.progress else 0,  # a line per epoch
                      weighted=replicas.active, compile_options=training_options(config, name),
                      fine_tune=recipe.fine_tune(config, name, params))
    exp.write_json(exp.model_dir(name) / "params.json", params)
    where = f" ({replicas.replicas} replicas, {replicas.strategy})" if replicas.active else ""
    echo(f"train {name}: {len(history)} epochs{where}, best val_accuracy "
         f"{history.get('val_accuracy', pd.Series([float('nan')])).max():.4f} -> {exp.model_dir(name)}")
    return model


def train_branches(exp: Experiment, names, echo=print, plot=None) -> None:
    """Grid search (if configured) and training of the branch models (and FMA's scikit-learn
    baselines, :mod:`mgc.training.baselines`) on baseline_train."""
    setup(exp.config)  # [distribute]: logical devices, multi-worker runtime, before the backend starts
    tracks = exp.split("baseline_train")
    for name in [n for n in names if n in BRANCHES or n in BASELINES]:
        if exp.model_path(name).is_file():
            echo(f"train {name}: already trained ({exp.model_path(name)})")
            continue
        if name in BASELINES:
            train_baseline(exp, name, tracks, echo, plot)
            continue
        best = search_model(exp, name, tracks, exp.branch_builder(name), exp.branch_data(name), echo, plot)
        model = _train(exp, name, tracks, exp.branch_builder(name), exp.branch_data(name), best, echo)
        model.save(exp.model_path(name))


def train_fusions(exp: Experiment, names, echo=print, plot=None) -> None:
    """Tune and train each fusion head on fusion_train over its frozen, trained branches."""
    setup(exp.config)  # [distribute]: before the frozen branches start the backend
    cnn_name = exp.config.train.fusion_cnn

    def stale(kind: str) -> bool:  # missing, or built on branches that were retrained since
        branches = [exp.model_path(n) for n in fusion_branches(kind, cnn_name)]
        newest_branch = max((p.stat().st_mtime for p in branches if p.is_file()), default=0.0)
        path = exp.model_path(kind)
        if path.is_file() and path.stat().st_mtime >= newest_branch:
            return False
        (exp.model_dir(kind) / "best_params.json").unlink(missing_ok=True)
        return True

    kinds = [n for n in names if n in FROZEN_FUSIONS and stale(n)]
    if not kinds:
        return
    loaded: dict[str, keras.Model] = {}
    tracks = exp.split("fusion_train")
    for kind in kinds:
        branches = {n: loaded.setdefault(n, exp.load(n)) for n in fusion_branches(kind, cnn_name)}
        arrays = exp.extracted(kind, branches)
        dims = tuple(value.shape[1] for slot, value in arrays.items() if slot != "track_id")

        def make_head(params, _tracks, kind=kind, dims=dims):
            with recipe.precision(exp.config):
                return build(kind, params, exp.shapes, branch_dims=dims)

        data = exp.vector_data(arrays)
        best = search_model(exp, kind, tracks, make_head, data, echo, plot)
        head = _train(exp, kind, tracks, make_head, data, best, echo)
        clean = keras.models.clone_model(head)  # same weights, no optimizer state in the saved fusion
        clean.set_weights(head.get_weights())
        cnn, mlp, *probe = branches.values()
        build_fusion(kind, cnn, mlp, clean, clip_shape=exp.shapes.spectrogram,
                     window_starts=recipe.windows(exp.config, cnn_name), probe=probe[0] if probe else None,
                     ).save(exp.model_path(kind))


def _predict_keras(exp: Experiment, name: str, tracks) -> tuple[np.ndarray, np.ndarray, np.ndarray, None]:
    """``(ids, labels, probabilities, None)`` of the trained Keras model ``name`` on ``tracks``; a
    crop-trained model's are the mean of its windows' probabilities (``Experiment.predict_tracks``)."""
    ids, labels, probabilities = exp.predict_tracks(exp.load(name), name, tracks)
    return ids, labels, probabilities, None


def evaluate(exp: Experiment, names, echo=print) -> dict[str, dict]:
    """Every trained model once on the test split: predictions CSV and metrics per model."""
    from mgc.training.metrics import evaluation_metrics

    test = exp.split("test")
    results = {}
    for name in names:
        path = exp.model_dir(name) / "test_metrics.json"
        if path.is_file() and path.stat().st_mtime >= exp.model_path(name).stat().st_mtime:
            results[name] = json.loads(path.read_text())
            continue
        # scikit-learn is graded on its own predict(), as FMA's numbers are; Keras on the argmax (None)
        ids, labels, probabilities, predicted = (predict_baseline if name in BASELINES else _predict_keras)(
            exp, name, test)
        chosen = probabilities.argmax(1) if predicted is None else predicted
        table = pd.DataFrame({"track_id": ids, "genre": [exp.classes[i] for i in labels],
                              "predicted": [exp.classes[i] for i in chosen],
                              "confidence": probabilities[np.arange(len(chosen)), chosen]})  # p of `predicted`
        for i, genre in enumerate(exp.classes):
            table[f"p_{genre}"] = probabilities[:, i]
        table.to_csv(exp.model_dir(name) / "test_predictions.csv", index=False, float_format="%.6f")
        results[name] = evaluation_metrics(labels, probabilities, y_pred=predicted)
        if name in GATED_FUSIONS:  # which modality its gate leans on, per test track
            write_test_gates(exp, name)
        exp.write_json(path, results[name])
        echo(f"evaluate {name}: test accuracy {results[name]['accuracy']:.4f}, loss {results[name]['loss']:.4f}")
    return results

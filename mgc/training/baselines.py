"""FMA's scikit-learn baselines (:mod:`mgc.models.baselines`) through the protocol: grid search
on the same folds, fit on ``baseline_train``, one evaluation on ``test``.

They read their view (:func:`mgc.contract.inputs_of`: the 518 features, or the pretrained view for
``musicnn_svm`` / ``musicnn_logreg``) exactly as the MLP's or the probe's input pipeline does (the
view's rows by track id, float32, in the tracks' order), widened to float64; the standardisation is the
pipeline's own ``StandardScaler``, fitted on the tracks each estimator is fitted on (each fold's
training part in the search). The search writes ``results/grid_<name>.csv`` in the Keras search's
table (:func:`mgc.training.search.run_grid`: resumable, ``mean_epochs`` 0) and
``models/<name>/best_params.json``; training writes ``params.json`` and ``model.joblib``.
Same config and seed, same files: SVC's Platt scaling is seeded with ``[run] seed``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score

from mgc.config.models import model_params
from mgc.contract import PRETRAINED, inputs_of
from mgc.errors import UserError
from mgc.models.baselines import build_baseline, fit_baseline, load_baseline, save_baseline
from mgc.splits import kfold
from mgc.training.search import run_grid, search_once


def view_arrays(exp, name: str, tracks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, y, ids)`` of ``tracks``, in their order: baseline ``name``'s view as the MLP or the probe
    is given it (float32, unstandardised) as float64, the labels (indices into ``exp.classes``) and
    the track ids."""
    (view,) = inputs_of(name)
    table = exp.pretrained if view == PRETRAINED else exp.features
    ids = tracks["track_id"].to_numpy(dtype=str)
    missing = [t for t in ids if t not in table.index]
    if missing:
        raise UserError(f"track {missing[0]!r} has no {view} view; run extract (or check [dataset] features_csv ids)")
    lookup = {genre: i for i, genre in enumerate(exp.classes)}
    labels = tracks["genre"].map(lookup)
    if labels.isna().any():
        raise UserError(f"genre {tracks['genre'][labels.isna()].iloc[0]!r} is not one of the classes")
    x = table.loc[ids].to_numpy(np.float32).astype(np.float64)
    return x, labels.to_numpy(dtype=np.int64), ids


def search_baseline(exp, name: str, tracks: pd.DataFrame, echo=print, plot=None) -> dict:
    """Grid-search baseline ``name`` if it has a [grid.<name>] table (the Keras search's folds,
    table and files: :func:`mgc.training.search.search_once`); returns the best combination."""
    config = exp.config

    def search(csv):
        x, y, _ = view_arrays(exp, name, tracks)
        splits = kfold(tracks, config.search.folds, config.run.seed, config.search.group_by_artist)

        def score(params: dict) -> tuple[list[float], list[int]]:  # fit on each fold's training part
            scores = []
            for train_pos, val_pos in splits:
                model = fit_baseline(build_baseline(name, params, config.run.seed), x[train_pos], y[train_pos])
                scores.append(float(accuracy_score(y[val_pos], model.predict(x[val_pos]))))
            return scores, [0] * len(scores)  # no epochs: a closed-form / convex fit

        return run_grid(config.grid[name], model_params(config, name), score, out_csv=csv, progress=exp.progress,
                        label=f"grid {name}")

    return search_once(exp, name, search, echo, plot)


def train_baseline(exp, name: str, tracks: pd.DataFrame, echo=print, plot=None) -> None:
    """Grid search (if configured), then fit baseline ``name`` with its best parameters on every
    one of ``tracks`` and save it (``params.json``, then ``model.joblib``, atomically)."""
    config = exp.config
    best = search_baseline(exp, name, tracks, echo, plot)
    params = model_params(config, name, **best)
    x, y, _ = view_arrays(exp, name, tracks)
    model = fit_baseline(build_baseline(name, params, config.run.seed), x, y)
    exp.write_json(exp.model_dir(name) / "params.json", params)
    save_baseline(model, exp.model_path(name))
    echo(f"train {name}: fitted on {len(y)} tracks, train accuracy {model.score(x, y):.4f} -> {exp.model_dir(name)}")


def predict_baseline(exp, name: str, tracks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(ids, labels, probabilities, predicted)`` of the trained baseline on ``tracks``:
    ``predict_proba`` (one column per class of the run) and the estimator's own ``predict``."""
    model = load_baseline(exp.model_path(name))
    x, y, ids = view_arrays(exp, name, tracks)
    proba = np.zeros((len(y), len(exp.classes)))
    proba[:, model.classes_] = model.predict_proba(x)  # a class absent from training keeps 0
    return ids, y, proba, np.asarray(model.predict(x), dtype=np.int64)

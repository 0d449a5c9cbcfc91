"""k-fold grid search: scikit-learn's ``ParameterGrid`` x stratified folds (``mgc.splits.kfold``).

Each combination trains one model per fold (early stopping on a slice of the fold's training
part) and scores accuracy on the fold's held-out part. Rows are appended to a partial CSV as
they finish, so an interrupted search resumes at the next combination. That bookkeeping
(:func:`run_grid`) is shared with the scikit-learn baselines' search (:mod:`mgc.training.baselines`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import pandas as pd
from sklearn.model_selection import ParameterGrid

from mgc.io import atomic_write_text
from mgc.splits import kfold, validation_slice
from mgc.training.fit import fit, reset_like
from mgc.training.grid_table import param_columns, table_row


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def grid_search(
    grid: dict[str, list],
    tracks: pd.DataFrame,
    *,
    base_params: dict[str, Any],
    make_model: Callable[[dict, pd.DataFrame], keras.Model],
    make_data: Callable[[pd.DataFrame, bool, int], Any],
    folds: int,
    seed: int,
    patience: int,
    validation_fraction: float,
    warmup_epochs: int = 0,
    group_by_artist: bool = False,
    out_csv: str | Path | None = None,
    progress: bool = True,
    label: str = "grid",
    weighted: bool = False,
    compile_options: dict | None = None,
    fine_tune: Callable[[dict], Any] | None = None,
    max_epochs: int = 0,
) -> pd.DataFrame:
    """Mean and std of fold accuracy for every combination of ``grid`` (one row each).

    ``make_model(params, fold_train_tracks)`` builds a fresh model; ``make_data(tracks, shuffle,
    batch_size)`` gives its input. With ``out_csv`` the table is written there (and resumed from
    ``<out_csv>.partial``). ``weighted``: batches carry sample weights (under [distribute],
    see :func:`mgc.training.fit.compile_model`). ``compile_options`` and ``fine_tune(params)``:
    see :func:`mgc.training.fit.fit`. ``max_epochs`` > 0 caps every fold's epochs (``[search]
    max_epochs``: a shorter budget that ranks the combinations). A fold's held-out part is scored
    on ``make_data(..., False, ...)``'s batches: for a crop-trained model, every window of its clips.
    """
    splits = kfold(tracks, folds, seed, group_by_artist)

    def epochs_of(params: dict[str, Any]) -> int:
        return min(int(params["epochs"]), max_epochs) if max_epochs else int(params["epochs"])

    def score(params: dict[str, Any]) -> tuple[list[float], list[int]]:  # one combination, every fold
        scores, epochs, model = [], [], None
        for train_pos, val_pos in splits:
            fold_train, fold_val = tracks.iloc[train_pos], tracks.iloc[val_pos]
            inner_train, inner_val = validation_slice(fold_train, validation_fraction, seed)
            keras.utils.set_random_seed(seed)
            fresh = make_model(params, fold_train)
            # Every fold fits one compiled model reset to a fresh build: same result, traced once.
            model = fresh if model is None else reset_like(model, fresh)
            batch = int(params["batch_size"])
            history = fit(model, make_data(inner_train, True, batch), make_data(inner_val, False, batch),
                          learning_rate=params["learning_rate"], epochs=epochs_of(params), patience=patience,
                          warmup_epochs=warmup_epochs, compile=model is fresh, weighted=weighted,
                          compile_options=compile_options, fine_tune=fine_tune(params) if fine_tune else None)
            result = model.evaluate(make_data(fold_val, False, batch), verbose=0, return_dict=True)
            scores.append(float(result["accuracy"]))
            epochs.append(len(history))
        return scores, epochs

    return run_grid(grid, base_params, score, out_csv=out_csv, progress=progress, label=label)


def run_grid(grid: dict[str, list], base_params: dict[str, Any],
             score: Callable[[dict[str, Any]], tuple[list[float], list[int]]], *,
             out_csv: str | Path | None = None, progress: bool = True, label: str = "grid") -> pd.DataFrame:
    """The search's bookkeeping, whatever trains the folds: ``score(params)`` gives one
    combination's fold accuracies and epochs (Keras: :func:`grid_search`; scikit-learn:
    :mod:`mgc.training.baselines`); rows go to ``<out_csv>.partial`` as they finish (a rerun
    resumes there) and the table to ``out_csv``."""
    from tqdm import tqdm

    combos = list(ParameterGrid(grid)) if grid else [{}]
    partial = Path(f"{out_csv}.partial") if out_csv else None
    rows: dict[str, dict] = {}
    if partial is not None and partial.is_file():
        for line in partial.read_text().splitlines():
            row = json.loads(line)
            rows[_key(row["params"])] = row
    bar = tqdm(combos, desc=label, unit="combo", disable=not progress)
    for combo in bar:
        if _key(combo) in rows:
            continue
        scores, epochs = score({**base_params, **combo})
        row = {"params": combo, "scores": scores, "epochs": epochs}
        rows[_key(combo)] = row
        if partial is not None:
            partial.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "a") as fh:
                fh.write(json.dumps(row) + "\n")
        bar.set_postfix(best=f"{max(np.mean(r['scores']) for r in rows.values()):.3f}")
    table = pd.DataFrame([_row(rows[_key(c)]) for c in combos])
    if out_csv is not None:
        atomic_write_text(Path(out_csv), table.to_csv(index=False, lineterminator="\n"))
        partial.unlink(missing_ok=True)
    return table


def _row(row: dict) -> dict:
    return table_row(row["params"], row["scores"], row["epochs"])


def best_params(table: pd.DataFrame) -> dict[str, Any]:
    """The combination with the highest mean CV accuracy (first one on ties), as plain Python."""
    best = table.loc[[table["mean_accuracy"].idxmax()], param_columns(table)]
    return best.to_dict("records")[0]  # per-column dtypes kept: an int column stays int


def search_once(exp, name: str, search: Callable[[Path], pd.DataFrame], echo=print, plot=None) -> dict[str, Any]:
    """The best combination of ``name``'s ``[grid.<name>]`` search ({} without such a table),
    searched once per run: ``search(csv)`` runs it (the Keras or the scikit-learn search, writing
    ``results/grid_<name>.csv``); the best goes to ``models/<name>/best_params.json``, which later
    calls return. ``plot(table, name, path)`` draws the table's figure (training does not import
    the reports; the stage that runs the search passes the report's ``plot_grid``)."""
    best_file = exp.model_dir(name) / "best_params.json"
    if name not in exp.config.grid:
        return {}
    if best_file.is_file():
        return json.loads(best_file.read_text())
    csv = exp.results_dir / f"grid_{name}.csv"
    table = search(csv)
    best = best_params(table)
    exp.write_json(best_file, best)
    if plot is not None:
        plot(table, name, exp.results_dir / f"grid_{name}.png")
    echo(f"grid {name}: best {best} (mean CV accuracy {table['mean_accuracy'].max():.4f}) -> {csv}")
    return best

"""The grid-search table's schema, owned by the search (:mod:`mgc.training.search`) and read by
the reports: one row per combination, its hyper-parameters, the mean and std of fold accuracy,
the mean epochs trained, and ``fold_1`` .. ``fold_k``. No Keras here, so reports stay light."""

from __future__ import annotations

import numpy as np
import pandas as pd

NON_PARAMS = ("mean_accuracy", "std_accuracy", "mean_epochs")
"""Grid columns that are results, not hyper-parameters (``fold_*`` columns are excluded too)."""
FOLD_PREFIX = "fold_"


def fold_columns(grid: pd.DataFrame) -> list[str]:
    """The per-fold accuracy columns, ``fold_1`` .. ``fold_k``."""
    return [c for c in grid.columns if str(c).startswith(FOLD_PREFIX)]


def param_columns(grid: pd.DataFrame) -> list[str]:
    """Hyper-parameter columns: everything that is not a result or a fold score."""
    folds = set(fold_columns(grid))
    return [c for c in grid.columns if c not in NON_PARAMS and c not in folds]


def table_row(params: dict, scores: list[float], epochs: list[int]) -> dict:
    """One row of the table for a combination's fold ``scores`` and ``epochs``."""
    out = {**params, "mean_accuracy": float(np.mean(scores)), "std_accuracy": float(np.std(scores)),
           "mean_epochs": float(np.mean(epochs))}
    out.update({f"{FOLD_PREFIX}{i + 1}": s for i, s in enumerate(scores)})
    return out

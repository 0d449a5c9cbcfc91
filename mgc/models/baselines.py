"""FMA's own baselines as models: scikit-learn classifiers on the standardised 518 features.

``svm`` is the RBF support-vector machine of FMA's table (Defferrard et al. 2017: 62.9 % on
fma_medium's features), ``logreg`` a logistic regression; ``musicnn_svm`` and ``musicnn_logreg``
are the same two on the pretrained view (musicnn's embedding: the classic linear / kernel probe of
a pretrained model). Each is a ``Pipeline`` of a
``StandardScaler`` (fitted on the training tracks, so per fold in a grid search) and the
classifier. They are the reference line every neural model must beat: trained on
``baseline_train``, graded in the same comparison table, grid-searched with the same
``[grid.<name>]`` tables and folds (:mod:`mgc.training.baselines`).

Saved as ``<workdir>/models/<name>/model.joblib`` (the fitted pipeline, pickled by joblib: load
only files you trust). They are **not exported as SavedModels**: an RBF SVM is not a Keras graph
and TensorFlow Serving cannot run it, so the ``export`` stage skips them with a one-line message
naming the joblib file, and ``predict`` (and so serving) refuses them with an ``error:``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from mgc.contract import BASELINES
from mgc.errors import UserError
from mgc.io import atomic_path

# which classifier each baseline is (what it reads: mgc.contract.inputs_of)
CLASSIFIER = {"svm": "svm", "logreg": "logreg", "musicnn_svm": "svm", "musicnn_logreg": "logreg"}


def build_baseline(name: str, params: dict[str, Any], seed: int) -> Pipeline:
    """The unfitted pipeline of baseline ``name`` with ``params`` (mgc.config.models) and ``seed``."""
    kind = CLASSIFIER.get(name)
    if kind == "svm":
        classifier = SVC(kernel="rbf", C=float(params["C"]), gamma=params["gamma"], probability=True,
                         random_state=seed)
    elif kind == "logreg":
        classifier = LogisticRegression(C=float(params["C"]), max_iter=int(params["max_iter"]), random_state=seed)
    else:
        raise UserError(f"{name!r} is not a baseline; choose from {', '.join(BASELINES)}")
    return Pipeline([("scale", StandardScaler()), (kind, classifier)])


def fit_baseline(estimator: Pipeline, x, y) -> Pipeline:
    """``estimator.fit(x, y)``, quiet about scikit-learn 1.9's deprecation of ``SVC(probability=True)``
    (its Platt probabilities are what FMA's SVM gives; scikit-learn 1.11 removes the parameter)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The `probability` parameter was deprecated", category=FutureWarning)
        return estimator.fit(x, y)


def save_baseline(estimator: Pipeline, path: str | Path) -> None:
    """Write the fitted ``estimator`` to ``path`` atomically (the old file or the whole new one)."""
    import joblib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        joblib.dump(estimator, fh)


def load_baseline(path: str | Path) -> Pipeline:
    """The fitted pipeline saved at ``path`` by :func:`save_baseline`."""
    import joblib

    path = Path(path)
    if not path.is_file():
        raise UserError(f"baseline not trained yet ({path}); run the train stage")
    return joblib.load(path)


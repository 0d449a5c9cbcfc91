"""Test-set metrics of a model from its class probabilities (scikit-learn's)."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss


def evaluation_metrics(y_true, probabilities, y_pred=None) -> dict:
    """Accuracy, mean categorical cross-entropy, macro-F1 and count from class probabilities.

    Probabilities are clipped to [1e-7, 1] (as Keras does) so a confident miss gives a finite loss.
    Accuracy and macro-F1 grade ``y_pred`` when given (a model's own decisions: an SVM's ``predict``
    follows its decision function, which can differ from the argmax of its Platt probabilities),
    else the argmax of ``probabilities``.
    """
    y_true = np.asarray(y_true).astype(int).ravel()
    proba = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1.0)
    if proba.ndim != 2 or len(proba) != len(y_true):
        raise ValueError(f"probabilities must be (n, n_classes) for n={len(y_true)}, "
                         f"got shape {proba.shape}")
    labels = list(range(proba.shape[1]))
    if y_pred is None:
        y_pred = proba.argmax(axis=1)
    else:
        y_pred = np.asarray(y_pred).astype(int).ravel()
        if len(y_pred) != len(y_true):
            raise ValueError(f"y_pred must have n={len(y_true)} labels, got {len(y_pred)}")
    with warnings.catch_warnings():
        if np.allclose(proba.sum(axis=1), 1.0, atol=1e-3):  # float32 softmax + clipping noise
            warnings.filterwarnings("ignore", message="The y_prob values do not sum to one")
        loss = log_loss(y_true, proba, labels=labels)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "loss": float(loss),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro",
                                   zero_division=0)),
        "n": int(len(y_true)),
    }

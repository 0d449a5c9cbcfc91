"""Training one model: Adam on sparse categorical cross-entropy from logits, early stopping on a
validation slice with the best weights restored, and (for kept models) CSV, TensorBoard and
``.keras`` checkpoint logs."""

from __future__ import annotations

from pathlib import Path

import keras
import pandas as pd


def compile_model(model: keras.Model, learning_rate: float, weighted: bool = False) -> keras.Model:
    """``weighted``: batches carry sample weights (distributed training's evened batches,
    ``mgc.training.distribute``); loss and accuracy are then sample-weighted means."""
    if weighted:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
        metrics = {"weighted_metrics": ["accuracy"]}
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = {"metrics": ["accuracy"]}
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, **metrics)
    return model


def reset_like(model: keras.Model, fresh: keras.Model) -> keras.Model:
    """Give the compiled, already fitted ``model`` the state of ``fresh`` (same architecture, just
    built) and a zeroed optimizer: fitting it then equals compiling and fitting ``fresh``, but
    reuses ``model``'s traced train and test functions (tracing is most of a small head's fit).
    """
    for target, source in zip(model.variables, fresh.variables, strict=True):  # incl. seed states
        target.assign(source)
    for variable in model.optimizer.variables:
        if not variable.path.endswith("learning_rate"):
            variable.assign(keras.ops.zeros_like(variable))
    return model


def fit(
    model: keras.Model,
    train,
    validation,
    *,
    learning_rate: float,
    epochs: int,
    patience: int,
    warmup_epochs: int = 0,
    log_dir: str | Path | None = None,
    verbose: int = 0,
    compile: bool = True,
    weighted: bool = False,
) -> pd.DataFrame:
    """Train ``model`` in place; returns the per-epoch history (Keras CSVLogger columns).

    Early stopping watches ``val_loss`` from epoch ``warmup_epochs`` on and restores the best
    epoch's weights. With ``log_dir``
    the run also leaves ``history.csv``, ``tensorboard/`` and ``checkpoint.keras`` (best epoch)
    there. ``compile=False`` keeps the model's optimizer and traced functions (see ``reset_like``).
    ``weighted``: see :func:`compile_model` (under a distribution, ``Replicas.active``).
    """
    if compile:
        compile_model(model, learning_rate, weighted)
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True,
                                               start_from_epoch=warmup_epochs)]
    if log_dir is not None:
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        callbacks += [
            keras.callbacks.CSVLogger(str(log_dir / "history.csv")),
            keras.callbacks.TensorBoard(str(log_dir / "tensorboard"), write_graph=False),
            keras.callbacks.ModelCheckpoint(str(log_dir / "checkpoint.keras"), monitor="val_loss", save_best_only=True),
        ]
    history = model.fit(train, validation_data=validation, epochs=epochs, callbacks=callbacks, verbose=verbose,
                        shuffle=False)  # tf.data shuffles, seeded
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", range(len(frame)))
    return frame

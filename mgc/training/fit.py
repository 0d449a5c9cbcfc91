"""Training one model: Adam on sparse categorical cross-entropy from logits, early stopping on a
validation slice with the best weights restored, and (for kept models) CSV, TensorBoard and
``.keras`` checkpoint logs."""

from __future__ import annotations

from pathlib import Path

import keras
import pandas as pd


def compile_model(model: keras.Model, learning_rate: float) -> keras.Model:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
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
) -> pd.DataFrame:
    """Train ``model`` in place; returns the per-epoch history (Keras CSVLogger columns).

    Early stopping watches ``val_loss`` from epoch ``warmup_epochs`` on and restores the best
    epoch's weights. With ``log_dir``
    the run also leaves ``history.csv``, ``tensorboard/`` and ``checkpoint.keras`` (best epoch)
    there.
    """
    compile_model(model, learning_rate)
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

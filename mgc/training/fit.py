"""Training one model: Adam on sparse categorical cross-entropy from logits, early stopping on a
validation slice with the best weights restored, and (for kept models) CSV, TensorBoard and
``.keras`` checkpoint logs."""

from __future__ import annotations

from pathlib import Path

import keras
import pandas as pd


@keras.saving.register_keras_serializable(package="mgc")
class ScaledAdam(keras.optimizers.Adam):
    """Adam whose learning rate is ``scale`` times smaller for the variables in ``scaled`` (a
    fine-tuned backbone), full for the rest (a new top). ``keras.ops`` only: every backend."""

    def __init__(self, *args, scale: float = 1.0, scaled=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.scale = float(scale)
        self._scaled_ids = {id(v) for v in scaled}
        self._scaled_index: set[int] = set()

    def build(self, var_list):
        super().build(var_list)
        self._scaled_index = {i for i, v in enumerate(var_list) if id(v) in self._scaled_ids}

    def update_step(self, gradient, variable, learning_rate):
        if self._get_variable_index(variable) in self._scaled_index:
            learning_rate = keras.ops.multiply(learning_rate, self.scale)
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def compile_model(model: keras.Model, learning_rate: float, weighted: bool = False, *, soft_labels: bool = False,
                  jit_compile: bool | str = "auto", steps_per_execution: int = 1, backbone=None,
                  lr_scale: float = 1.0) -> keras.Model:
    """Adam on cross-entropy from logits, accuracy as the metric.

    ``weighted``: batches carry sample weights (distributed training's evened batches,
    ``mgc.training.distribute``); loss and accuracy are then sample-weighted means.
    ``soft_labels``: one-hot or mixed (mixup) label rows instead of class indices.
    ``backbone`` (a layer) trains at ``lr_scale`` times the learning rate (:class:`ScaledAdam`).
    """
    reduction = {"reduction": "mean_with_sample_weight"} if weighted else {}
    loss_class = keras.losses.CategoricalCrossentropy if soft_labels else keras.losses.SparseCategoricalCrossentropy
    loss = loss_class(from_logits=True, **reduction)
    metrics = {"weighted_metrics": ["accuracy"]} if weighted else {"metrics": ["accuracy"]}
    if backbone is not None and lr_scale != 1.0:
        optimizer = ScaledAdam(learning_rate, scale=lr_scale, scaled=backbone.trainable_variables)
    else:
        optimizer = keras.optimizers.Adam(learning_rate)
    model.compile(optimizer=optimizer, loss=loss, jit_compile=jit_compile, steps_per_execution=steps_per_execution,
                  **metrics)
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
    compile_options: dict | None = None,
    fine_tune=None,
) -> pd.DataFrame:
    """Train ``model`` in place; returns the per-epoch history (Keras CSVLogger columns).

    Early stopping watches ``val_loss`` from epoch ``warmup_epochs`` on and restores the best
    epoch's weights. With ``log_dir``
    the run also leaves ``history.csv``, ``tensorboard/`` and ``checkpoint.keras`` (best epoch)
    there. ``compile=False`` keeps the model's optimizer and traced functions (see ``reset_like``).
    ``weighted``: see :func:`compile_model` (under a distribution, ``Replicas.active``).
    ``compile_options``: :func:`compile_model` keywords (soft labels, XLA, steps per execution).
    ``fine_tune`` (:class:`mgc.training.recipe.FineTune`): the backbone layer of that name is
    frozen for the first ``freeze_epochs`` epochs (batch norm in inference mode; no early
    stopping yet), then trained at ``lr_scale`` times the learning rate; the model is compiled
    for each phase.
    """
    options = dict(compile_options or {})
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True,
                                               start_from_epoch=warmup_epochs)]
    logs = []
    if log_dir is not None:
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        logs = [
            keras.callbacks.CSVLogger(str(log_dir / "history.csv"), append=fine_tune is not None),
            keras.callbacks.TensorBoard(str(log_dir / "tensorboard"), write_graph=False),
            keras.callbacks.ModelCheckpoint(str(log_dir / "checkpoint.keras"), monitor="val_loss", save_best_only=True),
        ]
        (log_dir / "history.csv").unlink(missing_ok=True)
    run = {"validation_data": validation, "verbose": verbose, "shuffle": False}  # tf.data shuffles, seeded
    frames, start = [], 0
    backbone = None
    if fine_tune is not None:
        backbone = model.get_layer(fine_tune.backbone)
        if fine_tune.freeze_epochs:
            backbone.trainable = False  # Keras 3: a frozen layer's batch norm runs in inference mode
            compile_model(model, learning_rate, weighted, **options)
            start = min(fine_tune.freeze_epochs, epochs)
            frames.append(pd.DataFrame(model.fit(train, epochs=start, callbacks=logs, **run).history))
            backbone.trainable = True
        compile_model(model, learning_rate, weighted, backbone=backbone, lr_scale=fine_tune.lr_scale, **options)
    elif compile:
        compile_model(model, learning_rate, weighted, **options)
    if start < epochs:
        history = model.fit(train, epochs=epochs, initial_epoch=start, callbacks=callbacks + logs, **run)
        frames.append(pd.DataFrame(history.history))
    frame = pd.concat(frames, ignore_index=True)
    frame.insert(0, "epoch", range(len(frame)))
    return frame

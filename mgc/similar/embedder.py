"""Track embeddings from a genre model, in predict's machinery (:func:`mgc.predict.batch.iter_predictions`).

:class:`EmbeddingRunner` wraps a runner so that ``predict_batch`` returns, for each window, its
embedding and its probabilities side by side, ``[embedding | probabilities]``: ``iter_predictions``
averages rows per file, so one pass over a library gives each track its mean embedding (then made
unit length, for cosine) and its genre (the argmax of its mean probabilities), with predict's
parallel decoding, batching across files, long files in parts and failed rows for bad files.

The embedding is the input of the model's last Dense layer (:func:`split_model`): for the fusion
models the fused representation before the classifier head, for ``joint`` its concatenated branches,
for the MLP its last hidden layer, for musicnn (``--model musicnn-msd``/``musicnn-mtt``) its 200-d
penultimate layer (whose tag probabilities give the genres through the tagger's genre mapping). A
SavedModel export has no such output and is refused (:func:`open_embedder`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mgc.contract import BASELINE_FILE
from mgc.errors import UserError
from mgc.predict.base import Runner

FORMAT = 1  # the index's layout and the embedding's definition: a change makes new cache keys


def _split(tensor):
    """``(embedding, output)`` symbolic tensors: the input of the last Dense layer that leads to
    ``tensor``, found through weightless one-input layers (activations, dropout) and nested models
    (a fusion's head), and the output (recomputed through a nested model's split, so it is computed once)."""
    import keras

    operation, node_index, _ = tensor._keras_history
    node = operation._inbound_nodes[node_index]
    if isinstance(operation, keras.layers.Dense):
        return node.arguments.args[0], tensor
    if isinstance(operation, keras.Model):  # a nested functional model: split it, then call the split instead
        embedding, output = _split(operation.output)
        inner = keras.Model(operation.input, [embedding, output], name=f"{operation.name}_split")
        kwargs = {key: value for key, value in node.arguments.kwargs.items() if value is not None}
        embedding, output = inner(*node.arguments.args, **kwargs)
        return embedding, output
    if not operation.weights and len(node.input_tensors) == 1:
        embedding, _ = _split(node.input_tensors[0])
        return embedding, tensor
    raise ValueError(f"{operation.name} ({type(operation).__name__})")


def split_model(model):
    """``keras.Model(model.inputs, [embedding, output])``, the embedding being the input of the model's
    last Dense layer (weights shared with ``model``); a UserError for a model without one."""
    import keras

    try:
        embedding, output = _split(model.output)
    except (ValueError, AttributeError, IndexError) as exc:
        raise UserError(f"{model.name}: no Dense layer before its output to take an embedding from "
                        f"(stopped at {exc})") from None
    return keras.Model(model.input, [embedding, output], name=f"{model.name}_embedding")


class EmbeddingRunner(Runner):
    """``runner``'s model cut at its last Dense layer: each window's ``[embedding | probabilities]``
    (a tagger's tag probabilities). ``genres`` are the model's; ``labels`` are placeholders, one per
    column, for ``iter_predictions`` (whose own genre of that vector means nothing: :meth:`split` it)."""

    def __init__(self, runner: Runner, cache_key: dict):
        self.runner, self.cache_key = runner, dict(cache_key)
        self.model = split_model(runner.model)
        self.dim = int(self.model.outputs[0].shape[-1])
        self.genres = [str(label) for label in runner.labels]
        self.width = self.dim + (len(runner.tags) if runner.tagger else len(self.genres))
        self.labels = [f"column_{i}" for i in range(self.width)]
        self.inputs, self.clip = tuple(runner.inputs), runner.clip
        self.sample_rate, self.clip_samples, self.spectrogram = runner.sample_rate, runner.clip_samples, \
            runner.spectrogram
        self.decoder, self.min_duration = runner.decoder, runner.min_duration
        self.description = runner.description
        self.calls = 0  # model calls, for the build's report and the tests

    def predict_batch(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        import keras

        n = len(next(iter(inputs.values())))
        embedding, output = self.model.predict_on_batch(self.runner.model_inputs(inputs))
        self.calls += 1
        embedding = np.asarray(keras.ops.convert_to_numpy(embedding), np.float64)
        output = np.asarray(keras.ops.convert_to_numpy(output), np.float64)
        if not self.runner.tagger:  # logits -> probabilities
            output = np.exp(output - output.max(axis=1, keepdims=True))
            output /= output.sum(axis=1, keepdims=True)
        out = np.concatenate([embedding.reshape(n, -1), output.reshape(n, -1)], axis=1).astype(np.float32)
        if out.shape != (n, self.width):
            raise UserError(f"{self.description}: the embedding model returned {out.shape}, expected {(n, self.width)}")
        return out

    def split(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A file's mean ``[embedding | probabilities]`` -> ``(unit embedding float32, genre probabilities)``."""
        vector = np.asarray(vector, np.float64)
        embedding, tail = vector[:self.dim], vector[self.dim:]
        probabilities = self.runner.genre_probabilities(tail) if self.runner.tagger else tail
        return unit(embedding), np.asarray(probabilities, np.float64)


def unit(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` (one, or rows) scaled to unit length, float32 (a zero vector stays zero)."""
    vectors = np.asarray(vectors, np.float64)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def _checkpoint(path: Path) -> Path:
    return path / "model.keras" if path.is_dir() else path


def open_embedder(model: str, config: str | None = None) -> EmbeddingRunner:
    """The :class:`EmbeddingRunner` for ``--model``: ``musicnn-msd``/``musicnn-mtt``, a ``.keras``
    checkpoint or a run's model folder; its ``cache_key`` (what keys the index's cache) names the
    weights: musicnn's wheel digest, or the checkpoint's absolute path and stamp (and ``--config``'s)."""
    from mgc.io import file_stamp
    from mgc.predict.runners import KerasRunner, is_export, open_runner
    from mgc.predict.tagger import TAGGERS

    if model in TAGGERS:  # the name as given (./musicnn-msd is a path)
        from mgc.models.musicnn_weights import weights_id

        return EmbeddingRunner(open_runner(model), {"model": model, "weights": weights_id(TAGGERS[model])})
    path = Path(model).expanduser()
    if not path.exists():
        raise UserError(f"model not found: {path}")
    if is_export(path):
        raise UserError(f"{path} is an export (SavedModel): it has no embedding output; give the run's .keras "
                        f"checkpoint (<workdir>/models/<name>) or --model musicnn-msd (musicnn-mtt)")
    if path.name == BASELINE_FILE or (path.is_dir() and (path / BASELINE_FILE).is_file()):
        raise UserError(f"{path} is a scikit-learn baseline: it has no embedding; give a Keras model's .keras "
                        f"checkpoint (<workdir>/models/<name>) or --model musicnn-msd (musicnn-mtt)")
    runner = open_runner(model, config=config)
    if not isinstance(runner, KerasRunner):  # open_runner refuses anything else already
        raise UserError(f"{path}: similar takes a .keras checkpoint, a run's model folder or musicnn-msd")
    checkpoint = _checkpoint(path).resolve()
    identity = {"model": str(checkpoint), "stamp": file_stamp(checkpoint)}
    if config:
        identity.update(config=str(Path(config).expanduser().resolve()), config_stamp=file_stamp(config))
    return EmbeddingRunner(runner, identity)

"""Client for exported models behind TensorFlow Serving, over REST or gRPC.

``inputs_from_files`` turns audio files into a signature's inputs (one clip per file, the same
preprocessing as training), :class:`Client` sends them, and ``to_result`` reads genre and
probabilities from the outputs of either transport or of a locally loaded SavedModel.

Neither TensorFlow nor Keras is needed for REST: the gRPC half (:mod:`.grpc`, whose protos come
with ``tensorflow-serving-api``) is imported only when a gRPC target is used, or one of its
names (``grpc_predict``, ``predict_request``, ``parse_predict_response``) is looked up here.
"""

from __future__ import annotations

import numpy as np

from mgc.contract import OUTPUTS, PRETRAINED, SERVE_WAVEFORM, SIGNATURES, ClipSpec, signature_inputs
from mgc.errors import AudioError, UserError
from mgc.serving.rest import coerce_outputs, parse_rest_response, rest_body, rest_predict, rest_url

_GRPC_NAMES = ("grpc_predict", "parse_predict_response", "predict_request")


def __getattr__(name: str):
    """The gRPC names, from :mod:`mgc.serving.grpc` on first use (it needs ``grpc`` and its protos)."""
    if name in _GRPC_NAMES:
        from mgc.serving import grpc as grpc_module

        return getattr(grpc_module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Client", "OUTPUTS", "SIGNATURES", "coerce_outputs", "grpc_predict", "inputs_from_files",
    "parse_predict_response", "parse_rest_response", "predict_request", "rest_body", "rest_predict",
    "rest_url", "to_result",
]


class Client:
    """Predictions from model ``model_name`` served at ``target``.

    ``http://host:8501`` / ``https://...`` use REST; ``host:8500`` or ``grpc://host:8500`` use gRPC.
    """

    def __init__(self, target: str, model_name: str, version: int | None = None, timeout: float = 30.0):
        self.model_name, self.version, self.timeout = model_name, version, float(timeout)
        if target.startswith(("http://", "https://")):
            self.protocol, self.target = "rest", target.rstrip("/")
        else:
            address = target[len("grpc://"):] if target.startswith("grpc://") else target
            host, _, port = address.rstrip("/").rpartition(":")
            if not host or not port.isdigit():
                raise UserError(f"serving target must be http(s)://host:port or [grpc://]host:port, got {target!r}")
            self.protocol, self.target = "grpc", f"{host}:{port}"

    def predict(self, inputs: dict[str, np.ndarray], signature: str = "serving_default") -> dict[str, np.ndarray]:
        """The named outputs (``probabilities``, ``logits``, ``class_id``, ``genre``) for a batch of inputs."""
        if self.protocol == "rest":
            url = rest_url(self.target, self.model_name, self.version)
            outputs = rest_predict(url, inputs, signature, self.timeout)
        else:
            from mgc.serving.grpc import grpc_predict, predict_request

            request = predict_request(self.model_name, inputs, signature, self.version)
            outputs = grpc_predict(self.target, request, self.timeout)
        missing = [name for name in OUTPUTS if name not in outputs]
        if missing:
            raise UserError(f"TensorFlow Serving at {self.target} returned no {', '.join(missing)} output")
        return outputs


def inputs_from_files(paths, assets: dict, signature: str = "serving_default") -> dict[str, np.ndarray]:
    """Batch inputs of ``signature`` for audio files, one clip per file, per the export's ``assets`` (mgc.json).

    ``serving_default`` gets the views listed in ``assets["inputs"]``; ``serve_waveform`` gets
    ``waveform`` plus ``features`` when the model uses them. A model that reads the pretrained view
    is sent ``serve_waveform`` (its graph computes the view). Unusable files raise :class:`UserError`.
    """
    from mgc.audio.clip import load_clip
    from mgc.features.views import check_views, clip_views

    paths = list(paths)
    if not paths:
        raise UserError("no audio files given")
    if signature not in SIGNATURES:
        raise UserError(f"unknown signature {signature!r}; choose one of {', '.join(SIGNATURES)}")
    wanted = list(signature_inputs(signature, assets["inputs"]))
    if PRETRAINED in wanted:
        raise UserError(f"the model reads the pretrained view (musicnn's embedding), which its {SERVE_WAVEFORM} "
                        f"signature computes from the waveform; send {SERVE_WAVEFORM}, not {signature}")
    clip = ClipSpec.from_assets(assets)
    sr, samples = clip.sample_rate, clip.clip_samples
    views = check_views(wanted)  # one clip per file: predict's views of one window
    if samples < 1:
        raise ValueError(f"the export's clip_samples must be >= 1, got {samples}")
    rows = []
    for path in paths:
        try:
            y = load_clip(str(path), sample_rate=sr, duration=samples / sr)
            rows.append(clip_views(y[None], sr, clip.spectrogram, views))
        except AudioError as exc:
            raise UserError(f"{path}: {exc}") from None
    return {name: np.concatenate([row[name] for row in rows]) for name in wanted}


def to_result(outputs, labels) -> list[dict]:
    """Per example: ``{"genre", "class_id", "probabilities": {label: p}}`` from any path's outputs."""
    outputs = coerce_outputs(outputs)
    probabilities = outputs["probabilities"]
    if probabilities.ndim != 2 or probabilities.shape[1] != len(labels):
        raise UserError(f"model returned probabilities of shape {probabilities.shape} for {len(labels)} labels")
    results = []
    for i, row in enumerate(probabilities):
        class_id = int(outputs["class_id"][i]) if "class_id" in outputs else int(np.argmax(row))
        genre = str(outputs["genre"][i]) if "genre" in outputs else str(labels[class_id])
        results.append({
            "genre": genre,
            "class_id": class_id,
            "probabilities": {str(label): float(p) for label, p in zip(labels, row)},
        })
    return results

"""TensorFlow Serving's gRPC ``PredictionService.Predict`` (protos from ``tensorflow-serving-api``).

Inputs travel as ``TensorProto`` (``tf.make_tensor_proto``) in a ``PredictRequest`` whose
``model_spec`` names the model, signature and optionally the version; outputs come back the same way.
"""

from __future__ import annotations

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from mgc.errors import UserError
from mgc.serving.rest import coerce_outputs

# Spectrograms and waveforms exceed gRPC's 4 MB default for a few clips; TF Serving allows more.
CHANNEL_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


def predict_request(
    model: str, inputs: dict[str, np.ndarray], signature: str = "serving_default", version: int | None = None
) -> predict_pb2.PredictRequest:
    """A ``PredictRequest`` for ``model``; float inputs are sent as float32."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        array = np.asarray(value)
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
    return request


def parse_predict_response(response: predict_pb2.PredictResponse) -> dict[str, np.ndarray]:
    """Named outputs of a ``PredictResponse`` as numpy arrays (``genre`` decoded to str)."""
    return coerce_outputs({name: tf.make_ndarray(proto) for name, proto in response.outputs.items()})


def grpc_predict(target: str, request: predict_pb2.PredictRequest, timeout: float = 30.0) -> dict[str, np.ndarray]:
    """Send ``request`` to TF Serving at ``host:port`` (insecure channel); errors raise a one-line :class:`UserError`."""
    try:
        with grpc.insecure_channel(target, options=CHANNEL_OPTIONS) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            response = stub.Predict(request, timeout=timeout)
    except grpc.RpcError as exc:
        code, details = exc.code(), " ".join(str(exc.details()).split())
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise UserError(f"cannot reach TensorFlow Serving at {target}: {code.name}: {details}") from None
        raise UserError(f"TensorFlow Serving at {target} rejected the request: {code.name}: {details}") from None
    return parse_predict_response(response)

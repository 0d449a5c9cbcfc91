"""TensorFlow Serving's gRPC ``PredictionService.Predict`` (protos from ``tensorflow-serving-api``).

Inputs travel as ``TensorProto`` in a ``PredictRequest`` whose ``model_spec`` names the model,
signature and optionally the version; outputs come back the same way. The protos are built and
read with numpy (:func:`fill_tensor_proto`, :func:`tensor_proto_to_ndarray`: the wire format of
``tf.make_tensor_proto`` / ``tf.make_ndarray``), not TensorFlow's Python API. :mod:`mgc.serving`
imports this module only when a gRPC target is used.
"""

from __future__ import annotations

import grpc
import numpy as np
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from mgc.errors import UserError
from mgc.serving.rest import coerce_outputs

# Spectrograms and waveforms exceed gRPC's 4 MB default for a few clips; TF Serving allows more.
CHANNEL_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]

# numpy dtype -> (TensorFlow DataType name, TensorProto field of its values). As in
# tf.make_tensor_proto, an array of more than one element travels as tensor_content (raw
# little-endian bytes) when its type allows, otherwise in the typed field.
_TYPES = {
    np.dtype(np.float16): ("DT_HALF", "half_val"),
    np.dtype(np.float32): ("DT_FLOAT", "float_val"),
    np.dtype(np.float64): ("DT_DOUBLE", "double_val"),
    np.dtype(np.int8): ("DT_INT8", "int_val"),
    np.dtype(np.int16): ("DT_INT16", "int_val"),
    np.dtype(np.int32): ("DT_INT32", "int_val"),
    np.dtype(np.int64): ("DT_INT64", "int64_val"),
    np.dtype(np.uint8): ("DT_UINT8", "int_val"),
    np.dtype(np.uint16): ("DT_UINT16", "int_val"),
    np.dtype(np.uint32): ("DT_UINT32", "uint32_val"),
    np.dtype(np.uint64): ("DT_UINT64", "uint64_val"),
    np.dtype(np.complex64): ("DT_COMPLEX64", "scomplex_val"),
    np.dtype(np.complex128): ("DT_COMPLEX128", "dcomplex_val"),
    np.dtype(np.bool_): ("DT_BOOL", "bool_val"),
}
_NO_CONTENT = {"DT_UINT16", "DT_COMPLEX64", "DT_COMPLEX128", "DT_BOOL"}  # TF writes these in the typed field


def _enum(proto) -> dict[str, int]:
    """TensorFlow's DataType enum (name -> number), from the proto's own descriptor."""
    return {value.name: value.number for value in proto.DESCRIPTOR.fields_by_name["dtype"].enum_type.values}


def fill_tensor_proto(proto, value) -> None:
    """Write ``value`` (an array; str/bytes/object arrays are strings) into the empty
    ``TensorProto`` ``proto`` as ``tf.make_tensor_proto(value)`` would."""
    array = np.asarray(value)
    enum = _enum(proto)
    proto.tensor_shape.SetInParent()  # present even for a scalar's empty shape, as TensorFlow writes it
    for n in array.shape:
        proto.tensor_shape.dim.add().size = int(n)
    if array.dtype.kind in "OSU":
        proto.dtype = enum["DT_STRING"]
        proto.string_val.extend(_as_bytes(x) for x in array.ravel())
        return
    if array.dtype.newbyteorder("=") not in _TYPES:
        raise TypeError(f"Element type not supported in TensorProto: {array.dtype}")
    name, field = _TYPES[array.dtype.newbyteorder("=")]
    proto.dtype = enum[name]
    if array.size > 1 and name not in _NO_CONTENT:
        if array.nbytes >= 1 << 31:
            raise ValueError("Cannot create a tensor proto whose content is larger than 2GB.")
        proto.tensor_content = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        return
    flat = array.ravel()
    if name == "DT_HALF":
        getattr(proto, field).extend(flat.astype("<f2").view("<u2").tolist())
    elif name.startswith("DT_COMPLEX"):
        getattr(proto, field).extend(v for x in flat.tolist() for v in (x.real, x.imag))
    else:
        getattr(proto, field).extend(flat.tolist())


def _as_bytes(x) -> bytes:
    if isinstance(x, bytes):
        return bytes(x)
    if isinstance(x, str):
        return x.encode("utf-8")
    raise TypeError(f"Failed to convert {x!r} to a string tensor element (str or bytes)")


def tensor_proto_to_ndarray(proto) -> np.ndarray:
    """``proto`` (a ``TensorProto``) as a numpy array, as ``tf.make_ndarray(proto)`` reads it:
    ``tensor_content`` when set, else the typed values, the last one repeated to fill the shape
    (one value: a scalar broadcast); strings as an object array of bytes."""
    shape = [d.size for d in proto.tensor_shape.dim]
    count = int(np.prod(shape, dtype=np.int64))
    names = {number: name for name, number in _enum(proto).items()}
    name = names.get(proto.dtype, str(proto.dtype))
    if name == "DT_STRING":
        values = list(proto.string_val)
        if count > len(values):
            values.extend([values[-1] if values else ""] * (count - len(values)))
        return np.array(values, dtype=object).reshape(shape)
    dtypes = {type_name: (dtype, field) for dtype, (type_name, field) in _TYPES.items()}
    if name not in dtypes:
        raise TypeError(f"Unsupported tensor type: {proto.dtype}")
    dtype, field = dtypes[name]
    if proto.tensor_content:
        return np.frombuffer(proto.tensor_content, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)
    raw = getattr(proto, field)
    if name == "DT_HALF":
        values = np.fromiter(raw, dtype=np.uint16).view(np.float16)
    elif name.startswith("DT_COMPLEX"):
        it = iter(raw)
        values = np.array([complex(re, im) for re, im in zip(it, it)], dtype=dtype)
    else:
        values = np.fromiter(raw, dtype=dtype)
    if values.size == 0:
        return np.zeros(shape, dtype)
    if values.size != count:
        values = np.pad(values, (0, count - values.size), "edge")
    return values.reshape(shape)


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
        fill_tensor_proto(request.inputs[name], array)
    return request


def parse_predict_response(response: predict_pb2.PredictResponse) -> dict[str, np.ndarray]:
    """Named outputs of a ``PredictResponse`` as numpy arrays (``genre`` decoded to str)."""
    return coerce_outputs({name: tensor_proto_to_ndarray(proto) for name, proto in response.outputs.items()})


def grpc_predict(target: str, request: predict_pb2.PredictRequest, timeout: float = 30.0) -> dict[str, np.ndarray]:
    """Send ``request`` to TF Serving at ``host:port`` (insecure channel); errors raise a one-line
    :class:`UserError`."""
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

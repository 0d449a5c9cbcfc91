"""mgc.serving: TF Serving REST bodies and gRPC protos in their documented formats, and the Client
end to end against in-process stand-ins for TF Serving that run a real SavedModel.

TensorFlow Serving's binary cannot be installed here, so the servers below implement its two
predict endpoints (REST ``POST /v1/models/<name>[/versions/<v>]:predict`` and gRPC
``PredictionService.Predict``) by calling the loaded SavedModel signature, replying in TF
Serving's response formats.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from mgc.errors import UserError
from mgc.serving import (
    Client,
    coerce_outputs,
    inputs_from_files,
    parse_predict_response,
    parse_rest_response,
    predict_request,
    rest_body,
    rest_url,
    to_result,
)

MODEL = "toy"
LABELS = ["blues", "classical", "rock"]
N_MELS, FRAMES, N_FEATURES, WAVE = 8, 5, 518, 40


class Toy(tf.Module):
    """A contract-shaped model: a fixed linear map from the views to 3 genres."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.w_spec = tf.constant(rng.normal(size=(N_MELS * FRAMES, 3)).astype(np.float32))
        self.w_feat = tf.constant((0.01 * rng.normal(size=(N_FEATURES, 3))).astype(np.float32))
        self.w_wave = tf.constant(rng.normal(size=(WAVE, 3)).astype(np.float32))
        self.labels = tf.constant(LABELS)

    def _outputs(self, logits):
        class_id = tf.argmax(logits, axis=-1, output_type=tf.int64)
        return {
            "probabilities": tf.nn.softmax(logits),
            "logits": logits,
            "class_id": class_id,
            "genre": tf.gather(self.labels, class_id),
        }

    @tf.function(input_signature=[
        tf.TensorSpec([None, N_MELS, FRAMES], tf.float32, name="spectrogram"),
        tf.TensorSpec([None, N_FEATURES], tf.float32, name="features"),
    ])
    def serve(self, spectrogram, features):
        return self._outputs(tf.reshape(spectrogram, [-1, N_MELS * FRAMES]) @ self.w_spec + features @ self.w_feat)

    @tf.function(input_signature=[
        tf.TensorSpec([None, WAVE], tf.float32, name="waveform"),
        tf.TensorSpec([None, N_FEATURES], tf.float32, name="features"),
    ])
    def serve_waveform(self, waveform, features):
        return self._outputs(waveform @ self.w_wave + features @ self.w_feat)


def _call(loaded, signature: str, inputs: dict) -> dict:
    """What TF Serving does with a request: run the named signature on the inputs."""
    if signature not in loaded.signatures:
        raise KeyError(f"Serving signature name: \"{signature}\" not found in signature def")
    return loaded.signatures[signature](**{k: tf.constant(v, tf.float32) for k, v in inputs.items()})


def _rest_server(loaded):
    """TF Serving's REST predict endpoint (columnar request → ``{"outputs": {...}}``, errors ``{"error"}``)."""
    route = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?:predict$")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            match = route.match(self.path)
            if not match or match.group(1) != MODEL or match.group(2) not in (None, "1"):
                return self._reply(404, {"error": f"Servable not found for request: {self.path}"})
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            try:
                outputs = _call(loaded, body.get("signature_name", "serving_default"), body["inputs"])
            except Exception as exc:  # noqa: BLE001 (becomes the error body, as in TF Serving)
                return self._reply(400, {"error": str(exc)})
            columns = {k: (v.numpy().astype(str) if v.dtype == tf.string else v.numpy()).tolist()
                       for k, v in outputs.items()}
            self._reply(200, {"outputs": columns})

        def _reply(self, status, obj):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _grpc_server(loaded):
    """TF Serving's gRPC ``PredictionService.Predict`` over the loaded signatures."""

    class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):  # noqa: N802 (the proto's name)
            spec = request.model_spec
            if spec.name != MODEL or (spec.HasField("version") and spec.version.value != 1):
                context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {spec.name}")
            inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            try:
                outputs = _call(loaded, spec.signature_name or "serving_default", inputs)
            except Exception as exc:  # noqa: BLE001
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            response = predict_pb2.PredictResponse()
            response.model_spec.CopyFrom(spec)
            for name, value in outputs.items():
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``(loaded SavedModel, REST base URL, gRPC host:port)`` with both servers running."""
    toy = Toy()
    path = str(tmp_path_factory.mktemp("saved") / MODEL / "1")
    tf.saved_model.save(toy, path, signatures={"serving_default": toy.serve, "serve_waveform": toy.serve_waveform})
    loaded = tf.saved_model.load(path)
    rest, url = _rest_server(loaded)
    rpc, target = _grpc_server(loaded)
    yield loaded, url, target
    rest.shutdown()
    rest.server_close()
    rpc.stop(None)


def _inputs(signature="serving_default", batch=3, seed=1):
    rng = np.random.default_rng(seed)
    first = ("spectrogram", (batch, N_MELS, FRAMES)) if signature == "serving_default" else ("waveform", (batch, WAVE))
    return {first[0]: rng.normal(size=first[1]).astype(np.float32),
            "features": rng.normal(size=(batch, N_FEATURES)).astype(np.float32)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- REST format ---------------------------------------------------------------------------------


def test_rest_url_follows_tf_serving_paths():
    assert rest_url("http://h:8501", "cnn") == "http://h:8501/v1/models/cnn:predict"
    assert rest_url("http://h:8501/", "cnn", 3) == "http://h:8501/v1/models/cnn/versions/3:predict"


def test_rest_body_is_the_documented_columnar_format():
    assert json.dumps(rest_body({"x": np.array([[1.0, 2.5]])}, "sig"), separators=(",", ":")) == (
        '{"signature_name":"sig","inputs":{"x":[[1.0,2.5]]}}'
    )
    inputs = _inputs(batch=2)
    inputs["features"] = inputs["features"].astype(np.float64) / 3  # not float32-representable: sent as float32
    body = rest_body(inputs)
    assert list(body) == ["signature_name", "inputs"] and body["signature_name"] == "serving_default"
    assert set(body["inputs"]) == {"spectrogram", "features"}
    spec = body["inputs"]["spectrogram"]
    assert (len(spec), len(spec[0]), len(spec[0][0])) == (2, N_MELS, FRAMES)
    assert all(type(v) is float for v in spec[1][7])
    assert (len(body["inputs"]["features"]), len(body["inputs"]["features"][0])) == (2, N_FEATURES)
    back = json.loads(json.dumps(body))
    assert back == body
    np.testing.assert_array_equal(np.asarray(back["inputs"]["spectrogram"], np.float32), inputs["spectrogram"])
    np.testing.assert_array_equal(np.asarray(back["inputs"]["features"], np.float32),
                                  inputs["features"].astype(np.float32))


def test_parse_rest_response_reads_both_documented_output_forms():
    columnar = {"outputs": {"probabilities": [[0.25, 0.75]], "logits": [[-1.0, 0.1]],
                            "class_id": [1], "genre": ["rock"]}}
    out = parse_rest_response(json.loads(json.dumps(columnar)))
    assert out["probabilities"].dtype == np.float32 and out["probabilities"].shape == (1, 2)
    assert out["class_id"].dtype == np.int64 and out["class_id"].tolist() == [1]
    assert out["genre"].dtype.kind == "U" and out["genre"].tolist() == ["rock"]
    rows = parse_rest_response({"predictions": [
        {"probabilities": [0.25, 0.75], "logits": [-1.0, 0.1], "class_id": 1, "genre": "rock"}]})
    for name in columnar["outputs"]:
        np.testing.assert_array_equal(rows[name], out[name])
    with pytest.raises(UserError, match="Servable not found"):
        parse_rest_response({"error": "Servable not found for request: Latest(x)"})


# --- gRPC protos ---------------------------------------------------------------------------------


def test_predict_request_round_trips_through_the_proto():
    inputs = _inputs("serve_waveform", batch=2)
    wire = predict_request("cnn", inputs, "serve_waveform", version=3).SerializeToString()
    request = predict_pb2.PredictRequest.FromString(wire)
    assert request.model_spec.name == "cnn"
    assert request.model_spec.signature_name == "serve_waveform"
    assert request.model_spec.version.value == 3
    assert set(request.inputs) == {"waveform", "features"}
    for name, value in inputs.items():
        assert request.inputs[name].dtype == tf.float32.as_datatype_enum
        assert [d.size for d in request.inputs[name].tensor_shape.dim] == list(value.shape)
        back = tf.make_ndarray(request.inputs[name])
        assert back.dtype == np.float32
        np.testing.assert_array_equal(back, value)
    latest = predict_pb2.PredictRequest.FromString(predict_request("cnn", inputs).SerializeToString())
    assert latest.model_spec.signature_name == "serving_default" and not latest.model_spec.HasField("version")


def test_parse_predict_response_decodes_the_output_protos():
    response = predict_pb2.PredictResponse()
    for name, value in {"probabilities": np.array([[0.25, 0.75]], np.float32),
                        "logits": np.array([[-1.0, 0.1]], np.float32),
                        "class_id": np.array([1], np.int64), "genre": np.array([b"rock"], object)}.items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
    out = parse_predict_response(predict_pb2.PredictResponse.FromString(response.SerializeToString()))
    assert out["genre"].tolist() == ["rock"] and out["genre"].dtype.kind == "U"
    assert out["class_id"].dtype == np.int64 and out["class_id"].tolist() == [1]
    np.testing.assert_array_equal(out["probabilities"], [[0.25, 0.75]])


# --- end to end against in-process servers -------------------------------------------------------


@pytest.mark.parametrize("transport", ["rest", "grpc", "grpc://"])
@pytest.mark.parametrize("signature", ["serving_default", "serve_waveform"])
def test_client_predictions_equal_the_saved_model(served, transport, signature):
    loaded, url, target = served
    address = {"rest": url, "grpc": target, "grpc://": f"grpc://{target}"}[transport]
    client = Client(address, MODEL, version=1 if transport == "grpc://" else None, timeout=10)
    assert client.protocol == ("rest" if transport == "rest" else "grpc")
    inputs = _inputs(signature)
    remote = client.predict(inputs, signature)
    local = coerce_outputs(_call(loaded, signature, inputs))
    assert set(remote) == {"probabilities", "logits", "class_id", "genre"}
    np.testing.assert_allclose(remote["probabilities"], local["probabilities"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(remote["logits"], local["logits"], atol=1e-6, rtol=0)
    np.testing.assert_array_equal(remote["class_id"], local["class_id"])
    np.testing.assert_array_equal(remote["genre"], local["genre"])
    assert remote["genre"].dtype.kind == "U" and remote["class_id"].dtype == np.int64
    results, expected = to_result(remote, LABELS), to_result(local, LABELS)
    assert [r["genre"] for r in results] == [e["genre"] for e in expected] == local["genre"].tolist()
    for r, e in zip(results, expected):
        assert r["class_id"] == e["class_id"] and LABELS[r["class_id"]] == r["genre"]
        assert list(r["probabilities"]) == LABELS
        np.testing.assert_allclose(list(r["probabilities"].values()), list(e["probabilities"].values()), atol=1e-6)


def test_audio_files_to_served_genres(served, tmp_path):
    """Files → inputs_from_files → both transports → the same result as the SavedModel itself."""
    loaded, url, target = served
    rate, paths = 44100, []
    for i, freq in enumerate((220.0, 1760.0)):
        t = np.arange(int(2.5 * rate)) / rate
        paths.append(tmp_path / f"tone{i}.wav")
        sf.write(paths[-1], 0.5 * np.sin(2 * np.pi * freq * t), rate)
    # 2 s at 22050 Hz with hop 11025 gives 5 frames: the toy model's spectrogram shape.
    assets = {"labels": LABELS, "inputs": ["spectrogram", "features"], "sample_rate": 22050,
              "clip_seconds": 2.0, "clip_samples": 44100,
              "spectrogram": {"n_mels": N_MELS, "n_fft": 2048, "hop_length": 11025, "top_db": 80.0, "frames": FRAMES}}
    inputs = inputs_from_files(paths, assets)
    assert {k: (v.shape, v.dtype) for k, v in inputs.items()} == {
        "spectrogram": ((2, N_MELS, FRAMES), np.float32), "features": ((2, N_FEATURES), np.float32)}
    expected = to_result(_call(loaded, "serving_default", inputs), LABELS)
    for address in (url, target):
        got = to_result(Client(address, MODEL, timeout=10).predict(inputs), LABELS)
        assert [g["genre"] for g in got] == [e["genre"] for e in expected]
        for g, e in zip(got, expected):
            np.testing.assert_allclose(list(g["probabilities"].values()), list(e["probabilities"].values()), atol=1e-6)

    waveform = inputs_from_files(paths, {**assets, "inputs": ["spectrogram"]}, "serve_waveform")
    assert list(waveform) == ["waveform"] and waveform["waveform"].shape == (2, 44100)
    both = inputs_from_files(paths[:1], assets, "serve_waveform")
    assert sorted(both) == ["features", "waveform"]
    np.testing.assert_array_equal(both["features"][0], inputs["features"][0])
    with pytest.raises(UserError, match="missing.wav: file not found"):
        inputs_from_files([tmp_path / "missing.wav"], assets)


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["http://", "grpc://"])
def test_unreachable_server_is_a_one_line_user_error(scheme):
    address = f"{scheme}127.0.0.1:{_free_port()}"
    with pytest.raises(UserError) as info:
        Client(address, MODEL, timeout=5).predict(_inputs())
    message = str(info.value)
    assert message.startswith("cannot reach TensorFlow Serving at ") and "\n" not in message


def test_server_errors_are_surfaced_in_one_line(served):
    _, url, target = served
    with pytest.raises(UserError, match=r"HTTP 404: Servable not found") as info:
        Client(url, "nope", timeout=10).predict(_inputs())
    assert "\n" not in str(info.value)
    with pytest.raises(UserError, match=r"rejected the request: NOT_FOUND: Servable not found") as info:
        Client(target, "nope", timeout=10).predict(_inputs())
    assert "\n" not in str(info.value)
    with pytest.raises(UserError, match=r"HTTP 404: Servable not found .*/versions/2:predict"):
        Client(url, MODEL, version=2, timeout=10).predict(_inputs())
    with pytest.raises(UserError, match=r"NOT_FOUND"):
        Client(target, MODEL, version=2, timeout=10).predict(_inputs())
    with pytest.raises(UserError, match=r"HTTP 400: .*not found") as info:
        Client(url, MODEL, timeout=10).predict(_inputs(), "no_such_signature")
    assert "\n" not in str(info.value)
    with pytest.raises(UserError, match="serving target"):
        Client("localhost", MODEL)


# --- without TensorFlow: the REST client, and the gRPC protos built with numpy ----------------------

_NO_BACKENDS = r'''
import importlib.abc, json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCKED = ("tensorflow", "keras", "jax", "torch")


class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0].startswith("tensorflow") or name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked import of {name}")
        return None


sys.meta_path.insert(0, Block())


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.path == "/v1/models/m:predict" and body["signature_name"] == "serving_default", self.path
        n = len(body["inputs"]["features"])
        data = json.dumps({"outputs": {"probabilities": [[0.25, 0.75]] * n, "logits": [[-1.0, 0.5]] * n,
                                       "class_id": [1] * n, "genre": ["rock"] * n}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()

import numpy as np

import mgc.serving
from mgc.serving import Client

client = Client(f"http://127.0.0.1:{server.server_address[1]}", "m", timeout=10)
outputs = client.predict({"features": np.zeros((2, 3), np.float32)})
server.shutdown()
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras", "jax", "torch"})
print(json.dumps({"outputs": {k: v.tolist() for k, v in outputs.items()}, "dtypes": {k: v.dtype.kind for k, v in
                  outputs.items()}, "loaded": loaded, "grpc": "mgc.serving.grpc" in sys.modules}))
'''


def test_rest_client_works_without_tensorflow_keras_jax_or_torch():
    """``import mgc.serving`` and a REST ``Client.predict`` with every backend's import blocked."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    done = subprocess.run([sys.executable, "-c", _NO_BACKENDS], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outputs"] == {"probabilities": [[0.25, 0.75]] * 2, "logits": [[-1.0, 0.5]] * 2,
                                 "class_id": [1, 1], "genre": ["rock", "rock"]}
    assert result["dtypes"] == {"probabilities": "f", "logits": "f", "class_id": "i", "genre": "U"}
    assert result["loaded"] == [] and result["grpc"] is False


@pytest.mark.parametrize("value", [
    np.arange(12, dtype=np.float32).reshape(3, 4) / 7,  # float32 2-D: tensor_content
    np.array([3, -1, 2**40], np.int64),  # int64 1-D
    np.array(["rock", "hip-hop", "électronique"]),  # strings 1-D: string_val, UTF-8
    np.array([b"jazz"], object),
    np.array([[0.5]], np.float32),  # one element: the typed field, as TensorFlow writes it
    np.array([7], np.int64),
    np.float32(2.5),  # a scalar: an empty (but present) shape
    np.zeros((2, 0), np.float32),
    np.array([True, False]),
    np.array([1.5, -2.0], np.float16),
    np.array([4, 5], np.uint16),
])
def test_numpy_tensor_protos_match_tensorflows(value):
    from tensorflow.core.framework import tensor_pb2

    from mgc.serving.grpc import fill_tensor_proto, tensor_proto_to_ndarray

    ours = tensor_pb2.TensorProto()
    fill_tensor_proto(ours, value)
    theirs = tf.make_tensor_proto(value)
    assert ours.SerializeToString() == theirs.SerializeToString()
    for proto in (ours, theirs):
        expected, got = tf.make_ndarray(proto), tensor_proto_to_ndarray(proto)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tolist() == expected.tolist()


def test_typed_values_are_read_with_tensorflows_broadcast():
    """A response may carry typed ``*_val`` fields: one value fills the shape (its last value
    repeated, as tf.make_ndarray does)."""
    from mgc.serving.grpc import tensor_proto_to_ndarray

    for proto in (tf.make_tensor_proto(0.5, shape=[2, 3]), tf.make_tensor_proto(np.int64(4), shape=[3]),
                  tf.make_tensor_proto([1.0, 2.0], dtype=tf.float64, shape=[4]),
                  tf.make_tensor_proto("pop", shape=[2]), tf.make_tensor_proto([], dtype=tf.int32, shape=[0, 2])):
        expected, got = tf.make_ndarray(proto), tensor_proto_to_ndarray(proto)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tolist() == expected.tolist()

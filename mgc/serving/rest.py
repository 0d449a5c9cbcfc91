"""TensorFlow Serving's REST predict API, columnar ("inputs") format; standard library and numpy only.

Request:  ``POST {base}/v1/models/{model}[/versions/{v}]:predict`` with
``{"signature_name": "serving_default", "inputs": {"spectrogram": [[...]], "features": [[...]]}}``.
Response: ``{"outputs": {"probabilities": [[...]], "logits": [[...]], "class_id": [...], "genre": [...]}}``;
errors come back as a non-200 status with ``{"error": "..."}``.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request

import numpy as np

from mgc.contract import OUTPUTS
from mgc.errors import UserError


def rest_url(base: str, model: str, version: int | None = None) -> str:
    """The predict URL of ``model`` (latest version when ``version`` is None) under ``base``."""
    url = f"{base.rstrip('/')}/v1/models/{model}"
    if version is not None:
        url += f"/versions/{int(version)}"
    return url + ":predict"


def rest_body(inputs: dict[str, np.ndarray], signature: str = "serving_default") -> dict:
    """The JSON request body; float arrays are sent as float32 values (exact in JSON) in nested lists."""
    columns = {}
    for name, value in inputs.items():
        array = np.asarray(value)
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        columns[str(name)] = array.tolist()
    return {"signature_name": signature, "inputs": columns}


def coerce_outputs(outputs) -> dict[str, np.ndarray]:
    """Outputs of any path (REST JSON, gRPC protos, a loaded signature's tensors) as numpy arrays.

    ``probabilities``/``logits`` become float32, ``class_id`` int64 and ``genre`` a str array, so
    remote and local predictions compare and print the same way.
    """
    result = {}
    for name, value in outputs.items():
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        if name == "genre" or array.dtype.kind in "OSU":
            flat = [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in array.ravel()]
            array = np.array(flat, dtype=str).reshape(array.shape)
        elif name == "class_id":
            array = array.astype(np.int64)
        elif name in ("probabilities", "logits"):
            array = array.astype(np.float32)
        result[name] = array
    return result


def parse_rest_response(obj: dict) -> dict[str, np.ndarray]:
    """Named outputs of a predict response: ``{"outputs": {...}}`` (columnar) or ``{"predictions": [{...}]}`` (rows)."""
    if not isinstance(obj, dict):
        raise UserError(f"TensorFlow Serving answered with {type(obj).__name__}, expected a JSON object")
    if "error" in obj:
        raise UserError(f"TensorFlow Serving error: {_one_line(obj['error'])}")
    if isinstance(obj.get("outputs"), dict):
        return coerce_outputs(obj["outputs"])
    rows = obj.get("predictions")
    if isinstance(rows, list) and all(isinstance(row, dict) for row in rows):
        names = rows[0].keys() if rows else OUTPUTS
        return coerce_outputs({name: [row[name] for row in rows] for name in names})
    raise UserError(f"TensorFlow Serving response has no named outputs (keys: {sorted(obj)})")


def rest_predict(
    url: str, inputs: dict[str, np.ndarray], signature: str = "serving_default", timeout: float = 30.0
) -> dict[str, np.ndarray]:
    """POST ``inputs`` to a predict ``url`` (see :func:`rest_url`) and return the named outputs.

    Connection failures and HTTP errors raise :class:`UserError` with one line, including
    TF Serving's own ``{"error": ...}`` text.
    """
    data = json.dumps(rest_body(inputs, signature), separators=(",", ":")).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
    except urllib.error.HTTPError as exc:
        raise UserError(f"TensorFlow Serving at {url} answered HTTP {exc.code}: {_error_text(exc)}") from None
    except urllib.error.URLError as exc:
        raise UserError(f"cannot reach TensorFlow Serving at {url}: {_one_line(exc.reason)}") from None
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, malformed replies
        raise UserError(f"cannot reach TensorFlow Serving at {url}: {_one_line(exc) or type(exc).__name__}") from None
    try:
        obj = json.loads(payload)
    except ValueError:
        raise UserError(f"TensorFlow Serving at {url} answered with something that is not JSON") from None
    return parse_rest_response(obj)


def _error_text(exc: urllib.error.HTTPError) -> str:
    """TF Serving's ``{"error": ...}`` message from an HTTP error, else the status reason."""
    try:
        body = exc.read().decode("utf-8", "replace")
    except OSError:
        body = ""
    try:
        return _one_line(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return _one_line(body) or _one_line(exc.reason)


def _one_line(value) -> str:
    return " ".join(str(value).split())

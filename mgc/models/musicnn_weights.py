"""musicnn's pretrained weights: the TF1 checkpoints shipped in the musicnn 0.1.0 wheel, on the Keras port.

The wheel (``pip download --no-deps musicnn==0.1.0``, 29 MB, ISC licence, MTG/UPF) holds
``musicnn/MSD_musicnn/`` and ``musicnn/MTT_musicnn/``: TF1 checkpoints with an empty file prefix
(``.index``, ``.data-00000-of-00001``, ``.meta``). Each has 64 trained tensors (792,079 values) besides
Adam's slots and ``beta*_power``. :func:`assign` maps every one of them onto a layer of
:func:`mgc.models.musicnn.build_musicnn` (:data:`LAYERS`) and fails on any tensor left over, missing or of
another shape. Reading a checkpoint needs TensorFlow's reader (whatever the Keras backend);
:func:`convert` writes a ``.weights.h5`` that any backend loads without it.

``weights="msd"`` / ``"mtt"`` work like Keras' ``weights="imagenet"``: the first use finds the wheel
(``$MGC_MUSICNN_WHEEL``, else the cache) or downloads it with pip (:func:`fetch_wheel`), checks its
sha256, and converts that model's checkpoint once into
``<cache>/musicnn/<msd|mtt>-<first 12 of the wheel's sha256>.weights.h5`` (:func:`cached_weights`);
every later use loads that file only (no wheel, no TensorFlow checkpoint reader: JAX and PyTorch too).
The cache is ``$MGC_CACHE_DIR``, else ``~/.cache/mgc``. Offline with nothing cached: one
:class:`~mgc.errors.UserError` naming the ``pip download`` command and where to put the wheel.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from pathlib import Path

import numpy as np

from mgc.errors import UserError

WHEEL_NAME = "musicnn-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
WHEEL_ENV = "MGC_MUSICNN_WHEEL"
CACHE_DIR = Path("~/.cache/mgc")  # the default cache; $MGC_CACHE_DIR overrides it (cache_dir())
CACHE_ENV = "MGC_CACHE_DIR"
PIP_TIMEOUT = 600.0  # seconds for pip download (29 MB)
CHECKPOINTS = {"msd": "MSD_musicnn", "mtt": "MTT_musicnn"}  # folders under musicnn/ in the wheel
# Keras layer -> the checkpoint's variable scope (tf.compat.v1.layers numbers them in creation order).
LAYERS = {
    "input_bn": "batch_normalization",
    "timbral_38": "conv2d", "timbral_38_bn": "batch_normalization_1",
    "timbral_67": "conv2d_1", "timbral_67_bn": "batch_normalization_2",
    "temporal_128": "conv2d_2", "temporal_128_bn": "batch_normalization_3",
    "temporal_64": "conv2d_3", "temporal_64_bn": "batch_normalization_4",
    "temporal_32": "conv2d_4", "temporal_32_bn": "batch_normalization_5",
    "midend_1": "conv2d_5", "midend_1_bn": "batch_normalization_6",
    "midend_2": "conv2d_6", "midend_2_bn": "batch_normalization_7",
    "midend_3": "conv2d_7", "midend_3_bn": "batch_normalization_8",
    "pooled_bn": "batch_normalization_9",
    "dense": "dense",
    "penultimate": "batch_normalization_10",
    "logits": "dense_1",
}
OPTIMIZER = ("beta1_power", "beta2_power", "global_step")  # training state, like the */Adam, */Adam_1 slots


class CheckpointError(UserError):
    """A checkpoint that does not fit the port: tensors left over, missing, or of another shape."""


def _skipped(name: str) -> bool:
    return name.endswith(("/Adam", "/Adam_1")) or name in OPTIMIZER


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    """mgc's user cache: ``$MGC_CACHE_DIR``, else ``~/.cache/mgc`` (:data:`CACHE_DIR`)."""
    return Path(os.environ.get(CACHE_ENV) or CACHE_DIR).expanduser()


def find_wheel() -> Path | None:
    """The musicnn 0.1.0 wheel: ``$MGC_MUSICNN_WHEEL`` (which must exist), else the cache's if there."""
    if os.environ.get(WHEEL_ENV):
        path = Path(os.environ[WHEEL_ENV]).expanduser()
        if not path.is_file():
            raise UserError(f"${WHEEL_ENV} is {path}, which is not a file")
        return path
    path = cache_dir() / WHEEL_NAME
    return path if path.is_file() else None


def pip_command(folder: str | Path) -> list[str]:
    """The command that downloads the wheel into ``folder`` (this interpreter's pip)."""
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "musicnn==0.1.0", "-d", str(folder)]


def _offline(why: str) -> UserError:
    target = cache_dir() / WHEEL_NAME
    return UserError(f"cannot download musicnn's weights ({why}); on a machine with internet run "
                     f"`pip download --no-deps musicnn==0.1.0` and put {WHEEL_NAME} at {target} "
                     f"(or set ${WHEEL_ENV} to its path)")


def fetch_wheel(timeout: float = PIP_TIMEOUT) -> Path:
    """Download the wheel with pip into the cache (checked, then renamed into place); its path.

    pip writes into a temporary folder inside the cache, so a failed or interrupted download leaves
    nothing under the wheel's name; a wheel of another sha256 is refused and deleted. Offline (pip
    fails or times out): one :class:`UserError` saying what to download and where to put it."""
    cache = cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".musicnn-download-", dir=cache))
    except OSError as exc:
        raise UserError(f"cannot write the cache {cache}: {exc.strerror or exc} (set ${CACHE_ENV})") from None
    try:
        try:
            done = subprocess.run(pip_command(staging), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise _offline(f"pip download took more than {timeout:g} s") from None
        except OSError as exc:
            raise _offline(f"cannot run pip: {exc.strerror or exc}") from None
        found = staging / WHEEL_NAME
        if done.returncode != 0 or not found.is_file():
            lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            raise _offline(f"pip download failed: {lines[-1] if lines else f'exit code {done.returncode}'}")
        check_wheel(found)
        os.replace(found, cache / WHEEL_NAME)  # atomic: the cache holds the whole, checked wheel or none
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cache / WHEEL_NAME


def cached_weights(model: str = "msd") -> Path:
    """Where :func:`weights_file` keeps ``model``'s converted weights (it may not exist yet)."""
    return cache_dir() / "musicnn" / f"{model}-{WHEEL_SHA256[:12]}.weights.h5"


def check_wheel(path: str | Path) -> Path:
    """``path`` if it is the musicnn 0.1.0 wheel (sha256 :data:`WHEEL_SHA256`), else UserError."""
    digest = sha256(path)
    if digest != WHEEL_SHA256:
        raise UserError(f"{path} is not {WHEEL_NAME}: sha256 {digest}, expected {WHEEL_SHA256}")
    return Path(path)


def read_checkpoint(source: str | Path, model: str = "msd") -> dict[str, np.ndarray]:
    """The trained tensors (no optimizer state) of a TF1 checkpoint, by variable name.

    ``source``: the wheel (``model`` picks ``msd`` / ``mtt`` in it), an unpacked wheel, or a checkpoint
    folder (musicnn's have an empty prefix: ``folder/.index``)."""
    from mgc.input.checkpoint import read_tensors  # TensorFlow's reader, whatever the Keras backend

    source = Path(source).expanduser()
    folder = f"musicnn/{CHECKPOINTS[model]}"
    with tempfile.TemporaryDirectory() as tmp:
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as zf:
                for name in (".index", ".data-00000-of-00001"):
                    if f"{folder}/{name}" not in zf.namelist():
                        raise CheckpointError(f"{source} is not the musicnn wheel: no {folder}/{name} in it")
                    Path(tmp, name).write_bytes(zf.read(f"{folder}/{name}"))
            prefix = tmp + "/"
        elif (source / folder).is_dir():
            prefix = f"{source / folder}/"
        else:
            indexes = sorted(source.glob("*.index"))
            if len(indexes) != 1:
                raise CheckpointError(f"{source}: not a musicnn wheel nor a folder with one checkpoint (*.index)")
            prefix = str(indexes[0])[: -len(".index")]
        try:
            return read_tensors(prefix, keep=lambda name: not _skipped(name))
        except UserError as exc:
            raise CheckpointError(f"{source}: {exc}") from None


def assign(model, tensors: dict[str, np.ndarray]) -> None:
    """Set the weights of ``model`` (``build_musicnn(None, outputs=OUTPUT_NAMES)``: every layer) from ``tensors``,
    each used once; CheckpointError, naming each, for a tensor left over, missing, or of another shape
    (and then nothing is assigned)."""
    wanted, problems = {}, []
    for layer in model.layers:
        if layer.weights and layer.name not in LAYERS:
            problems.append(f"layer {layer.name} has no checkpoint scope")
        for variable in layer.weights:
            wanted[f"{LAYERS.get(layer.name, layer.name)}/{variable.name}"] = variable
    problems += [f"unmapped checkpoint tensor {k} {tuple(v.shape)}" for k, v in sorted(tensors.items())
                 if k not in wanted and not _skipped(k)]
    problems += [f"missing checkpoint tensor {k} {tuple(v.shape)}" for k, v in sorted(wanted.items())
                 if k not in tensors]
    problems += [f"checkpoint tensor {k} is {tuple(np.shape(tensors[k]))}, the port wants {tuple(v.shape)}"
                 for k, v in sorted(wanted.items()) if k in tensors and tuple(np.shape(tensors[k])) != tuple(v.shape)]
    if problems:
        raise CheckpointError("musicnn checkpoint does not fit the port: " + "; ".join(problems))
    for key, variable in wanted.items():
        variable.assign(np.asarray(tensors[key], dtype=variable.dtype))


def weights_id(weights: str | Path) -> str:
    """What identifies ``weights`` (as :func:`load` takes them) for a cache key: ``msd@<the wheel's
    sha256>``, or ``sha256@<digest>`` of a file (of a checkpoint folder's files, in name order)."""
    if weights in CHECKPOINTS:
        return f"{weights}@{WHEEL_SHA256}"
    path = Path(weights).expanduser()
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(item.relative_to(path).as_posix().encode() + b"\0" + sha256(item).encode())
        return f"sha256@{digest.hexdigest()}"
    if not path.is_file():
        raise UserError(f"musicnn weights not found: {path} (or use \"msd\", \"mtt\")")
    return f"sha256@{sha256(path)}"


def load(model, weights: str | Path) -> None:
    """Load ``weights`` into ``model`` (the whole port: every layer of :data:`LAYERS`): ``"msd"`` /
    ``"mtt"`` (the cached conversion, made once: from the wheel, :func:`find_wheel` or
    :func:`fetch_wheel`, sha256-checked, then written atomically to :func:`cached_weights`), a
    ``.weights.h5`` file of the port, a wheel (its MSD model), or a checkpoint folder."""
    if weights in CHECKPOINTS:
        path = cached_weights(weights)
        if not path.is_file():
            assign(model, read_checkpoint(check_wheel(find_wheel() or fetch_wheel()), weights))
            save(model, path)
            return
        try:
            model.load_weights(path)
        except Exception as exc:  # a damaged cache file: h5py / keras raise many kinds
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserError(f"cannot read the cached musicnn weights {path} ({first}); delete it to convert "
                            f"them again") from None
        return
    path = Path(weights).expanduser()
    if not path.exists():
        raise UserError(f"musicnn weights not found: {path} (or use \"msd\", \"mtt\", \"none\")")
    if path.name.endswith(".weights.h5"):
        model.load_weights(path)
    else:
        assign(model, read_checkpoint(path))


def save(model, out: str | Path) -> Path:
    """``model.save_weights(out)``, atomically: a reader sees the whole file or none."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write the cache {out.parent}: {exc.strerror or exc} (set ${CACHE_ENV})") from None
    # Keras wants the name to end in .weights.h5
    tmp = out.with_name(f".{out.name[:-len('.weights.h5')]}.tmp{os.getpid()}-{uuid.uuid4().hex[:8]}.weights.h5")
    try:
        model.save_weights(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out

"""Reference outputs of the ORIGINAL musicnn graphs (MSD_musicnn, MTT_musicnn) on the real recordings.

    python tests/reference/make_musicnn_reference.py [--wheel musicnn-0.1.0-py3-none-any.whl]
        [--audio ../shared/data/real-audio or $MGC_REAL_AUDIO] [--patches 2] [--out tests/reference]

Needs TensorFlow (2.x; run through ``tf.compat.v1`` in graph mode), numpy, librosa and the musicnn 0.1.0
wheel (``pip download --no-deps musicnn==0.1.0``; default: $MGC_MUSICNN_WHEEL, else
~/.cache/mgc/musicnn-0.1.0-py3-none-any.whl). It imports nothing from mgc nor the musicnn package's code
(which needs numpy<1.17 and TF1): the input is a verbatim copy of musicnn/extractor.py's ``batch_data``
below, and the model is the checkpoint's own training graph (its ``.meta``) pruned to inference:

* keep only the nodes the fetched tensors depend on (``extract_sub_graph``), which drops the gradient,
  Adam, ``beta*_power``, save, init, metrics and batch-norm update nodes (the unpruned import fails on a
  gradient node's shape attribute), and strip every ``_output_shapes`` attribute;
* replace each ``VariableV2`` left by an ``Assign`` of the checkpoint's value (every non-slot checkpoint
  tensor must be used, every variable assigned), and run with ``model/Placeholder_2`` (is_training) False.

Writes ``musicnn_input.npz`` (the float16 mel stage of the patches fed, see below), ``musicnn_msd.npz`` and
``musicnn_mtt.npz`` (per patch: tag probabilities, logits, penultimate, max_pool and mean_pool features).
Clips shorter than one 3 s patch are skipped: ``batch_data`` itself fails on them (UnboundLocalError).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import zipfile
from pathlib import Path

import librosa
import numpy as np

# musicnn/configuration.py
SR = 16000
FFT_HOP = 256
FFT_SIZE = 512
N_MELS = 96
N_FRAMES = 187  # librosa.time_to_frames(3, sr=SR, n_fft=FFT_SIZE, hop_length=FFT_HOP) + 1 (extractor.py)

MODELS = {"msd": "MSD_musicnn", "mtt": "MTT_musicnn"}
# Tensors of the original graph (model/ is extractor.py's name scope; see models.py for what they are).
INPUT, IS_TRAINING = "model/Placeholder:0", "model/Placeholder_2:0"  # [N, 187, 96] float32; bool
FETCH = {
    "tags": "model/Sigmoid:0",  # sigmoid(logits), [N, 50]
    "logits": "model/dense_1/BiasAdd:0",  # [N, 50]
    "penultimate": "model/batch_normalization_10/batchnorm/add_1:0",  # bn(relu(dense)), [N, 200]
    "max_pool": "model/Max:0",  # max over time of the mid-end's 753 maps, [N, 753, 1]
    "mean_pool": "model/moments/Squeeze:0",  # mean over time (tf.nn.moments), [N, 753, 1]
}
SKIP = ("beta1_power", "beta2_power", "global_step")  # optimizer state, like the */Adam, */Adam_1 slots


def batch_data(audio_file, n_frames, overlap):
    """musicnn/extractor.py's batch_data, verbatim but for config.X -> X and the docstring."""

    # compute the log-mel spectrogram with librosa
    audio, sr = librosa.load(audio_file, sr=SR)
    audio_rep = librosa.feature.melspectrogram(y=audio,
                                               sr=sr,
                                               hop_length=FFT_HOP,
                                               n_fft=FFT_SIZE,
                                               n_mels=N_MELS).T
    audio_rep = audio_rep.astype(np.float16)
    audio_rep = np.log10(10000 * audio_rep + 1)

    # batch it for an efficient computing
    first = True
    last_frame = audio_rep.shape[0] - n_frames + 1
    # +1 is to include the last frame that range would not include
    for time_stamp in range(0, last_frame, overlap):
        patch = np.expand_dims(audio_rep[time_stamp : time_stamp + n_frames, : ], axis=0)
        if first:
            batch = patch
            first = False
        else:
            batch = np.concatenate((batch, patch), axis=0)

    return batch, audio_rep  # (batch is unbound when the clip is shorter than n_frames: as in musicnn)


def default_wheel() -> Path:
    return Path(os.environ.get("MGC_MUSICNN_WHEEL") or Path.home() / ".cache/mgc/musicnn-0.1.0-py3-none-any.whl")


def run_original(wheel: Path, model: str, patches: np.ndarray) -> dict[str, np.ndarray]:
    """The checkpoint's graph, pruned to inference, on ``patches`` [N, 187, 96] -> FETCH's arrays."""
    import tensorflow as tf
    from tensorflow.core.protobuf import meta_graph_pb2
    from tensorflow.python.training import py_checkpoint_reader

    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory() as tmp:
        folder = f"musicnn/{model}/"
        meta = meta_graph_pb2.MetaGraphDef.FromString(zf.read(folder + ".meta"))
        for name in (".index", ".data-00000-of-00001"):
            Path(tmp, name).write_bytes(zf.read(folder + name))
        reader = py_checkpoint_reader.NewCheckpointReader(tmp + "/")  # the files have an empty prefix
        values = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
                  if not k.endswith(("/Adam", "/Adam_1")) and k not in SKIP}

    graph_def = tf.compat.v1.graph_util.extract_sub_graph(meta.graph_def, [t.split(":")[0] for t in FETCH.values()])
    for node in graph_def.node:
        node.attr.pop("_output_shapes", None)
    variables = [n.name for n in graph_def.node if n.op in ("VariableV2", "Variable")]
    if sorted(variables) != sorted(values):
        raise RuntimeError(f"graph variables != checkpoint tensors: {sorted(set(variables) ^ set(values))}")
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
        assign = [tf.raw_ops.Assign(ref=graph.get_tensor_by_name(v + ":0"), value=tf.constant(values[v]))
                  for v in variables]
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(assign)
            out = sess.run(FETCH, feed_dict={INPUT: patches.astype(np.float32), IS_TRAINING: False})
    out["max_pool"], out["mean_pool"] = out["max_pool"][..., 0], out["mean_pool"][..., 0]
    return {k: v.astype(np.float32) for k, v in out.items()}


def main(argv=None) -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, default=default_wheel())
    audio = os.environ.get("MGC_REAL_AUDIO", here.parents[2] / "shared/data/real-audio")
    parser.add_argument("--audio", type=Path, default=audio)
    parser.add_argument("--patches", type=int, default=2, help="first N patches of each clip (default 2)")
    parser.add_argument("--out", type=Path, default=here)
    args = parser.parse_args(argv)
    if not args.audio.is_dir():
        args.audio = Path("/work/shared/data/real-audio")

    clips, starts, mel16, batches, skipped = [], [], [], [], []
    for path in sorted(args.audio.glob("*.ogg")):
        try:
            batch, _ = batch_data(str(path), N_FRAMES, N_FRAMES)  # extractor(): input_overlap=False
        except UnboundLocalError:
            skipped.append(path.name)
            continue
        batch = batch[: args.patches]
        # The patches are log10(10000 h + 1) of float16 h: store h (exact, half the bytes) and check that
        # it gives back the patches bit for bit (numpy 1.x promotes 10000 * float16 to float32).
        h = ((10 ** batch.astype(np.float64) - 1) / 10000).astype(np.float16)
        assert np.array_equal(np.log10(10000 * h + 1), batch), path.name
        clips += [path.name] * len(batch)
        starts += [i * N_FRAMES for i in range(len(batch))]
        mel16.append(h)
        batches.append(batch)
    patches = np.concatenate(batches)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"wheel": args.wheel.name, "skipped_short_clips": skipped, "patches_per_clip": args.patches,
            "fetch": FETCH, "librosa": librosa.__version__, "numpy": np.__version__}
    np.savez_compressed(args.out / "musicnn_input.npz", mel16=np.concatenate(mel16), clip=np.array(clips),
                        start=np.array(starts), meta=json.dumps(meta))
    for key, model in MODELS.items():
        out = run_original(args.wheel, model, patches)
        np.savez_compressed(args.out / f"musicnn_{key}.npz", **out, clip=np.array(clips), meta=json.dumps(meta))
        print(f"{model}: {len(patches)} patches from {len(set(clips))} clips; skipped {skipped}")
    for name in ("musicnn_input.npz", "musicnn_msd.npz", "musicnn_mtt.npz"):
        print(name, (args.out / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()

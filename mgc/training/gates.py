"""What an attention fusion's gate does: its per-example weight of each modality on the test tracks.

The gate (:class:`mgc.models.layers.ModalityGate`) softmax-weights the projected branch vectors
of every clip; ``evaluate`` writes those weights per test track to ``models/<fusion>/test_gates.csv``
(``track_id``, ``genre``, ``gate_<view>`` for the spectrogram, features and pretrained
branches), and the reports average them per genre (which modality the fusion leans on where).
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

from mgc.contract import GATES_CSV, VIEWS, fusion_branches
from mgc.models.fusion import SLOTS


def gate_model(fusion: keras.Model, kind: str) -> keras.Model:
    """The sub-model of ``fusion``'s head from the branch vectors (``{"cnn", "mlp"[, "musicnn"]}``)
    to the gate's weights (batch, modalities); shares the trained weights."""
    head = fusion.get_layer(f"{kind}_head")
    gate = head.get_layer("modality_gate")
    slots = [slot for slot in SLOTS if slot in head.input]
    projected = [head.get_layer(f"project_{slot}").output for slot in slots]
    return keras.Model(head.input, gate.gates(projected), name=f"{kind}_gates")


def write_test_gates(exp, kind: str) -> pd.DataFrame:
    """``models/<kind>/test_gates.csv`` of gated fusion ``kind``: each test track's gate weights."""
    branches = {n: exp.load(n) for n in fusion_branches(kind, exp.config.train.fusion_cnn)}
    arrays = exp.extracted(kind, branches)  # cached by the fuse stage
    test = exp.split("test")
    rows = pd.Index(arrays["track_id"]).get_indexer(test["track_id"])
    slots = [slot for slot in SLOTS if slot in arrays]
    weights = gate_model(exp.load(kind), kind).predict_on_batch({s: arrays[s][rows] for s in slots})
    table = pd.DataFrame({"track_id": test["track_id"].to_numpy(), "genre": test["genre"].to_numpy()})
    for view, column in zip(VIEWS, np.asarray(keras.ops.convert_to_numpy(weights), np.float64).T):
        table[f"gate_{view}"] = column
    table.to_csv(exp.model_dir(kind) / GATES_CSV, index=False, float_format="%.6f")
    return table

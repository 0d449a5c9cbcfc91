"""``predict --segments FILE``: one row per window, how a file's genre changes over time.

Columns: ``path, start, end, genre, confidence, p_<label>...`` (seconds from the start of the
file; ``end`` is the window's end, or the file's for its last, zero-padded window). Only the
windows the model ran on: silent windows are left out (as the per-file mean leaves them out),
and a failed file has none. A tagger's windows carry their genre probabilities (each genre's
largest tag probability). ``--min-confidence`` applies per window too: a window below it is
``unknown``. CSV or JSON by the file's extension, written atomically like ``--output``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from mgc.contract import UNKNOWN_GENRE
from mgc.predict.table import DIGITS, output_format, records_csv, write_text

SECONDS_DIGITS = 3  # window starts and ends: milliseconds


def segment_columns(labels) -> list[str]:
    return ["path", "start", "end", "genre", "confidence", *(f"p_{label}" for label in labels)]


def segment_records(rows, labels, min_confidence: float = 0.0) -> list[dict]:
    """A dict per window of every ok row (rows from ``predict_files(..., segments=True)``)."""
    out = []
    for row in rows:
        if row.status != "ok" or row.spans is None:
            continue
        for (start, end), probabilities in zip(row.spans, row.window_probabilities):
            best = int(np.argmax(probabilities))
            confidence = float(probabilities[best])
            record = {"path": row.path, "start": round(float(start), SECONDS_DIGITS),
                      "end": round(float(end), SECONDS_DIGITS),
                      "genre": UNKNOWN_GENRE if confidence < min_confidence else labels[best],
                      "confidence": round(confidence, DIGITS)}
            record.update({f"p_{label}": round(float(p), DIGITS) for label, p in zip(labels, probabilities)})
            out.append(record)
    return out


def write_segments(rows, labels, path: str | os.PathLike, min_confidence: float = 0.0) -> Path:
    """The segments table at ``path`` (CSV or JSON by extension), atomically."""
    path = Path(path)
    values = segment_records(rows, labels, min_confidence)
    if output_format(path, "--segments") == "csv":
        text = records_csv(segment_columns(labels), values)
    else:
        text = json.dumps(values, indent=2, ensure_ascii=False) + "\n"
    return write_text(path, text, "--segments")

"""The on-disk cache: sharded TFRecords plus a small index per shard, committed atomically.

Layout under ``<workdir>/cache/<key>/`` (``key`` hashes every audio and spectrogram setting,
so changing one starts a new cache instead of reusing stale data)::

    settings.json            the settings the key was made from
    shard-00000.tfrecord     examples (see mgc.cache.records)
    shard-00000.npz          index: track ids, paths, features, failures  <- commit marker

Each record carries the file's stamp (size and modification time), so a file replaced at the
same path is extracted again instead of served stale. A shard counts only once its ``.npz`` exists; both files are written to a temporary name,
flushed to disk and renamed, so a crash at any point (even ``kill -9``) leaves either a whole
shard or an orphan ``.tfrecord`` that the next run deletes.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mgc.config import Config, settings_hash
from mgc.errors import UserError

CACHE_FORMAT = 2
SHARD_RE = re.compile(r"^shard-(\d{5})\.npz$")


def cache_settings(config: Config) -> dict:
    """Everything that changes what the cache holds for a track."""
    return {
        "format": CACHE_FORMAT,
        "features": "fma-518-v1",
        "audio": {
            "sample_rate": config.audio.sample_rate,
            "duration": config.audio.duration,
            "offset": config.audio.offset,
            "min_duration": config.audio.min_duration,
            "decoder": config.audio.decoder,
        },
        "spectrogram": vars(config.spectrogram).copy(),
    }


def cache_dir(config: Config) -> Path:
    """``<workdir>/cache/<key>`` for this config's audio and spectrogram settings."""
    return Path(config.run.workdir) / "cache" / settings_hash(cache_settings(config))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


@contextmanager
def exclusive(directory: Path):
    """Hold ``directory/.lock`` for one writer at a time: two extractions writing the same cache
    would number their shards alike. The OS drops the lock when the holder dies (even kill -9)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(directory / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"another extract is writing {directory}; wait for it to finish or stop it") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def file_stamp(path: str) -> str:
    """``size:mtime_ns`` of a file, or ``missing``: changes when the file is replaced."""
    try:
        stat = os.stat(path)
    except OSError:
        return "missing"
    return f"{stat.st_size}:{stat.st_mtime_ns}"


@dataclass
class Shard:
    """What one shard holds: successes (with features) and failures."""

    track_ids: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    stamps: list[str] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    records: list[bytes] = field(default_factory=list)
    failed: list[tuple[str, str, str, str]] = field(default_factory=list)  # track_id, path, stamp, reason

    def __len__(self) -> int:
        return len(self.track_ids) + len(self.failed)


class ShardStore:
    """Reads and writes the shards of one cache directory."""

    def __init__(self, directory: Path, n_features: int):
        self.directory = Path(directory)
        self.n_features = n_features

    def open(self, settings: dict) -> None:
        """Create the directory, record its settings, remove orphans of interrupted writes."""
        self.directory.mkdir(parents=True, exist_ok=True)
        settings_path = self.directory / "settings.json"
        if not settings_path.exists():
            atomic_write_text(settings_path, json.dumps(settings, indent=2, sort_keys=True) + "\n")
        committed = {p.stem for p in self.directory.glob("shard-*.npz")}
        for path in self.directory.iterdir():
            if path.name.startswith(".") and ".tmp" in path.name:  # callers hold exclusive()
                path.unlink()
            elif path.suffix == ".tfrecord" and path.stem not in committed:
                path.unlink()

    def shard_numbers(self) -> list[int]:
        return sorted(int(m.group(1)) for p in self.directory.glob("shard-*.npz") if (m := SHARD_RE.match(p.name)))

    def write(self, number: int, shard: Shard) -> None:
        """Commit one shard: its TFRecord file first, then the index that marks it complete."""
        import tensorflow as tf

        name = f"shard-{number:05d}"
        record_path = self.directory / f"{name}.tfrecord"
        tmp = self.directory / f".{name}.tfrecord.tmp{os.getpid()}"
        with tf.io.TFRecordWriter(str(tmp)) as writer:
            for record in shard.records:
                writer.write(record)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, record_path)
        features = np.stack(shard.features) if shard.features else np.zeros((0, self.n_features), np.float32)
        failed = np.array(shard.failed, dtype=str).reshape(-1, 4)
        index = {
            "track_id": np.array(shard.track_ids, dtype=str),
            "path": np.array(shard.paths, dtype=str),
            "stamp": np.array(shard.stamps, dtype=str),
            "features": features.astype(np.float32),
            "failed_track_id": failed[:, 0],
            "failed_path": failed[:, 1],
            "failed_stamp": failed[:, 2],
            "failed_reason": failed[:, 3],
        }
        tmp_index = self.directory / f".{name}.npz.tmp{os.getpid()}"
        with open(tmp_index, "wb") as fh:
            np.savez(fh, **index)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_index, self.directory / f"{name}.npz")

    def read_index(self) -> tuple[pd.DataFrame, np.ndarray]:
        """All committed records, latest shard last: a table (track_id, path, stamp, status,
        reason, row, shard) and the features matrix that ``row`` points into."""
        frames, features, offset = [], [], 0
        for number in self.shard_numbers():
            with np.load(self.directory / f"shard-{number:05d}.npz") as z:
                ok = pd.DataFrame({"track_id": z["track_id"], "path": z["path"], "stamp": z["stamp"],
                                   "status": "ok", "reason": ""})
                ok["row"] = np.arange(offset, offset + len(ok))
                offset += len(ok)
                features.append(z["features"])
                bad = pd.DataFrame(
                    {"track_id": z["failed_track_id"], "path": z["failed_path"], "stamp": z["failed_stamp"],
                     "status": "failed", "reason": z["failed_reason"], "row": -1}
                )
            for part in (ok, bad):
                if len(part):
                    part["shard"] = f"shard-{number:05d}.tfrecord"
                    frames.append(part)
        columns = ["track_id", "path", "stamp", "status", "reason", "row", "shard"]
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
        matrix = np.concatenate(features) if features else np.zeros((0, self.n_features), np.float32)
        return table[columns], matrix

    def latest(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Like :meth:`read_index` but one row per (track_id, path): the most recent record."""
        table, matrix = self.read_index()
        table = table.drop_duplicates(["track_id", "path"], keep="last").reset_index(drop=True)
        return table, matrix

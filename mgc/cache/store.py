"""The on-disk cache: sharded TFRecords plus a small index per shard, committed atomically.

Layout under ``<workdir>/cache/<key>/`` (``key`` hashes every audio and spectrogram setting,
so changing one starts a new cache instead of reusing stale data)::

    settings.json            the settings the key was made from
    shard-00000.tfrecord     examples (see mgc.cache.records)
    shard-00000.npz          index: track ids, paths, features, failures  <- commit marker
    part-1-of-3/             an ``extract --shard 1/3`` worker's own shards, lock and numbering
    shard-00007.npz          or an index entry that *adopts* committed part shards (``adopted``:
                             their names, in order), written by ``--merge`` or a plain extract

The numbered entries give every record a commit order (the latest record of a track wins), and
the adopted part shards take their place in it when they are merged; until then only the
workers themselves see them.

Each record carries the file's stamp (size and modification time), so a file replaced at the
same path is extracted again instead of served stale. A shard counts only once its ``.npz``
exists; both files are written to a temporary name, flushed to disk and renamed, so a crash at
any point (even ``kill -9``) leaves either a whole shard or an orphan ``.tfrecord`` that the next run deletes.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mgc.cache.records import write_records
from mgc.config import Config
from mgc.io import atomic_path, atomic_write_bytes, atomic_write_json, exclusive, settings_hash

CACHE_FORMAT = 2
SHARD_RE = re.compile(r"^shard-(\d{5})\.npz$")
PART_RE = re.compile(r"^part-(\d+)-of-(\d+)$")  # an ``extract --shard i/N`` worker's folder (mgc.cache.parts)
ADOPTED = "adopted"  # key of an index entry that lists part shards instead of holding records


def cache_settings(config: Config) -> dict:
    """Everything that changes what the cache holds for a track."""
    return {
        "format": CACHE_FORMAT,
        "features": "fma-518-v2",  # v2: a clip decodes and resamples only its span (librosa.load's), not the file
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

    def lock(self):
        """Hold ``directory/.lock`` for one writer at a time: two extractions writing the same
        cache would number their shards alike. The OS drops the lock when the holder dies (even
        kill -9). A second holder gets a UserError at once."""
        return exclusive(self.directory,
                         f"another extract is writing {self.directory}; wait for it to finish or stop it")

    def write_settings(self, settings: dict) -> None:
        """Create the directory and record the settings its key was made from."""
        self.directory.mkdir(parents=True, exist_ok=True)
        settings_path = self.directory / "settings.json"
        if not settings_path.exists():
            atomic_write_json(settings_path, settings)

    def open(self, settings: dict) -> None:
        """Create the directory, record its settings, remove orphans of interrupted writes."""
        self.write_settings(settings)
        committed = {p.stem for p in self.directory.glob("shard-*.npz")}
        for path in self.directory.iterdir():
            if path.name.startswith(".") and ".tmp" in path.name:  # callers hold lock()
                path.unlink()
            elif path.suffix == ".tfrecord" and path.stem not in committed:
                path.unlink()

    def entries(self) -> list[str]:
        """Committed shards in commit order, as names relative to the directory (no suffix):
        ``shard-00003``, or ``part-1-of-3/shard-00000`` for an adopted part shard."""
        names = []
        for number in self.shard_numbers():
            with np.load(self.directory / f"shard-{number:05d}.npz") as z:
                adopted = [str(name) for name in z[ADOPTED]] if ADOPTED in z.files else None
            names.extend(adopted if adopted is not None else [f"shard-{number:05d}"])
        return names

    def _records(self, extra: list[str] = ()):
        """``(name, index)`` of every committed shard in commit order (adopted part shards in
        their entry's place), then ``extra``; each index file is opened once."""
        def load(name: str) -> dict:
            with np.load(self.directory / f"{name}.npz") as z:
                return {key: z[key] for key in z.files}

        for number in self.shard_numbers():
            index = load(f"shard-{number:05d}")
            if ADOPTED in index:
                for name in index[ADOPTED]:
                    yield str(name), load(str(name))
            else:
                yield f"shard-{number:05d}", index
        for name in extra:
            yield name, load(name)

    def adopt(self, names: list[str]) -> None:
        """Commit one index entry that makes part shards ``names`` (relative names, committed in
        their part folders) the latest records of this store, in that order; one atomic write."""
        numbers = self.shard_numbers()
        buffer = io.BytesIO()
        np.savez(buffer, **{ADOPTED: np.array(names, dtype=str)})
        atomic_write_bytes(self.directory / f"shard-{(numbers[-1] + 1 if numbers else 0):05d}.npz", buffer.getvalue())

    def shard_numbers(self) -> list[int]:
        return sorted(int(m.group(1)) for p in self.directory.glob("shard-*.npz") if (m := SHARD_RE.match(p.name)))

    def part_dirs(self) -> list[tuple[int, int, Path]]:
        """``(i, N, folder)`` of each part folder an ``extract --shard i/N`` worker has created
        in this directory, by (N, i)."""
        found = []
        if self.directory.is_dir():
            for path in self.directory.iterdir():
                if (m := PART_RE.match(path.name)) and path.is_dir():
                    found.append((int(m.group(1)), int(m.group(2)), path))
        return sorted(found, key=lambda item: (item[1], item[0]))

    def unadopted(self) -> list[str]:
        """Committed part shards that no index entry has adopted yet, in (N, i, number) order."""
        adopted = set(self.entries())
        names = []
        for index, count, path in self.part_dirs():
            for number in ShardStore(path, self.n_features).shard_numbers():
                name = f"part-{index}-of-{count}/shard-{number:05d}"
                if name not in adopted:
                    names.append(name)
        return names

    def adopt_parts(self) -> int:
        """Adopt every committed part shard not adopted yet (the caller holds the lock); returns
        how many. The workers may still be running: later shards are adopted next time."""
        names = self.unadopted()
        if names:
            self.adopt(names)
        return len(names)

    def write(self, number: int, shard: Shard) -> None:
        """Commit one shard: its TFRecord file first, then the index that marks it complete."""
        name = f"shard-{number:05d}"
        with atomic_path(self.directory / f"{name}.tfrecord") as tmp:
            write_records(tmp, shard.records)
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
        with atomic_path(self.directory / f"{name}.npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **index)

    def read_index(self, extra: list[str] = ()) -> tuple[pd.DataFrame, np.ndarray]:
        """All committed records, latest shard last: a table (track_id, path, stamp, status,
        reason, row, shard) and the features matrix that ``row`` points into. ``extra``: more
        shards (relative names, e.g. not yet adopted part shards) read after the entries."""
        frames, features, offset = [], [], 0
        for name, z in self._records(extra):
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
                    part["shard"] = f"{name}.tfrecord"
                    frames.append(part)
        columns = ["track_id", "path", "stamp", "status", "reason", "row", "shard"]
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
        matrix = np.concatenate(features) if features else np.zeros((0, self.n_features), np.float32)
        return table[columns], matrix

    def latest(self, extra: list[str] = ()) -> tuple[pd.DataFrame, np.ndarray]:
        """Like :meth:`read_index` but one row per (track_id, path): the most recent record."""
        table, matrix = self.read_index(extra)
        table = table.drop_duplicates(["track_id", "path"], keep="last").reset_index(drop=True)
        return table, matrix

"""The index of a library's track embeddings, cached on disk and updated incrementally.

A folder (by default ``~/.cache/mgc/similar/<key>/``, :func:`index_dir`; the key hashes the library's
real path and the model's identity) holds:

* ``index.json``: what the index was made with (library, model, hop, embedding size); an index of
  other settings is refused, never mixed;
* ``index.csv``: one row per track, ``path`` (relative to the library), ``status``, ``reason``,
  ``genre``, ``confidence``, ``shard``, ``row``, ``file_stamp``: a :class:`mgc.predict.output.GrowingTable`,
  appended as tracks finish (a line cut by a kill is dropped when it is read again);
* ``shard-NNNNNN.npy``: float32 unit embeddings, ``(rows, dim)``, each written atomically before the
  table rows that point into it are committed (every :data:`SHARD_FILES` tracks or
  :data:`FLUSH_SECONDS`, and on Ctrl-C), so an interrupt keeps every committed track.

A rerun (:meth:`Index.update`) embeds only the files that are new or whose stamp (size and
modification time) changed, and drops the rows of files gone from the library. Unreferenced shards
(a kill between a shard and its rows, or dropped rows) are removed when the index is opened; at the
end of a build (:meth:`Index.finish`) many shards, or many dead rows in them, are merged into one, so
a big library ends as one ``.npy`` (100k tracks x 200 float32: 80 MB). While building, the index holds
each track's row (a small tuple, about 0.3 kB) and the vectors still to commit, never the matrix;
:meth:`Index.load` reads the matrix for queries.

The class takes precomputed vectors (:meth:`Index.add`), so it is tested without a model.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mgc.errors import UserError
from mgc.predict.output import STAMP, GrowingTable

TABLE, META = "index.csv", "index.json"
COLUMNS = ["path", "status", "reason", "genre", "confidence", "shard", "row", STAMP]
SHARD = re.compile(r"^shard-(\d+)\.npy$")
SHARD_FILES = 256  # tracks per shard while building (a kill loses at most these, or FLUSH_SECONDS' worth)
FLUSH_SECONDS = 30.0
MAX_SHARDS = 16  # more at the end of a build: merged into one
MAX_DEAD = 0.25  # dead rows (of dropped or changed tracks) above this share of the shards' rows: merged


def cache_root() -> Path:
    """``$MGC_CACHE_DIR/similar``, by default ``~/.cache/mgc/similar``."""
    from mgc.models.musicnn_weights import cache_dir

    return cache_dir() / "similar"


def index_dir(library: str | os.PathLike, settings: dict) -> Path:
    """The default cache folder of ``library``'s index with ``settings`` (the model's identity, ...)."""
    from mgc.io import settings_hash

    return cache_root() / settings_hash({"library": os.path.realpath(library), **settings}, 16)


class Track(NamedTuple):
    """One row of the index (``shard`` empty and ``row`` None for a failed track)."""

    path: str
    status: str
    reason: str
    genre: str
    confidence: float | None
    shard: str
    row: int | None
    file_stamp: str


assert list(Track._fields) == COLUMNS


def _track(line: list[str]) -> Track:
    path, status, reason, genre, confidence, shard, row, stamp = line
    return Track(path, sys.intern(status), reason, sys.intern(genre), float(confidence) if confidence else None,
                 sys.intern(shard), int(row) if row else None, stamp)


@dataclass
class Entries:
    """A loaded index's ok tracks: ``paths`` (relative), ``genres``, ``confidences``, ``vectors`` (n, dim)."""

    paths: list[str]
    genres: list[str]
    confidences: np.ndarray
    vectors: np.ndarray

    def find(self, path: str) -> int | None:
        try:
            return self.paths.index(path)
        except ValueError:
            return None


class Index:
    """The index in ``directory``, made with ``settings`` (JSON-able) for ``dim``-d embeddings."""

    def __init__(self, directory: str | os.PathLike, settings: dict, dim: int):
        self.dir, self.dim = Path(directory), int(dim)
        self.settings = json.loads(json.dumps({**settings, "dim": self.dim}))
        self.table = GrowingTable(self.dir / TABLE, "csv", COLUMNS, option="--cache")
        self.rows: dict[str, Track] = {}  # path -> its committed row
        self._buffer: list[tuple[Track, np.ndarray | None]] = []
        self._flushed = time.monotonic()
        self._next = 0  # the next shard's number
        self.added = 0  # tracks added since opened

    # -- opening ---------------------------------------------------------------------------------
    def open(self) -> Index:
        """Check (or record) the settings, read the rows, drop those whose shard is gone or short,
        and remove what no row refers to. Hold :meth:`lock` around it and the build."""
        from mgc.io import atomic_write_json

        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot write the index folder {self.dir}: {exc.strerror or exc} (give --cache DIR)") \
                from None
        meta = self.dir / META
        if meta.is_file():
            try:
                made = json.loads(meta.read_text())
            except ValueError:
                made = {"index.json": "unreadable"}
            changed = [key for key in sorted(set(made) | set(self.settings)) if made.get(key) != self.settings.get(key)]
            if changed:
                key = changed[0]
                raise UserError(f"--cache {self.dir} holds an index made with other settings ({key}: "
                                f"{made.get(key)!r}, now {self.settings.get(key)!r}); give another --cache, or remove "
                                f"it to start over")
        else:
            atomic_write_json(meta, self.settings)
        lines = list(self._read())
        rows = {track.path: track for track in lines}  # a path twice: its last row
        sizes = {name: self._shard_rows(name) for name in {track.shard for track in rows.values() if track.shard}}
        self.rows = {path: track for path, track in rows.items()
                     if not track.shard or (sizes[track.shard] or 0) > track.row}
        if len(self.rows) != len(lines):
            self._rewrite(self.rows.values())
        self._clean()
        return self

    def _read(self):
        """The committed rows of the table, one at a time (a line cut short by a kill is cut off the file)."""
        path = self.table.path
        if not path.is_file() or path.stat().st_size == 0:
            return
        data = path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # never committed
            with open(path, "rb+") as fh:
                fh.truncate(end)
        reader = csv.reader(io.StringIO(data[:end].decode("utf-8")))
        header = next(reader, [])
        if header != COLUMNS:
            raise UserError(f"--cache {self.dir} holds no index of this version ({TABLE} has the columns "
                            f"{', '.join(header[:6])}...); give another --cache, or remove it to start over")
        for line in reader:
            if line:
                yield _track(line)

    def _rewrite(self, tracks) -> None:
        self.table.keep_only(track._asdict() for track in tracks)

    def lock(self):
        """One build of this index at a time (:func:`mgc.io.exclusive`)."""
        from mgc.io import exclusive

        self.dir.mkdir(parents=True, exist_ok=True)
        return exclusive(self.dir, f"another similar command is building the index in {self.dir}; wait for it")

    def _shard_rows(self, name: str) -> int | None:
        """Rows in shard ``name`` (None: missing, unreadable or of another width)."""
        try:
            data = np.load(self.dir / name, mmap_mode="r")
        except (OSError, ValueError):
            return None
        return data.shape[0] if data.ndim == 2 and data.shape[1] == self.dim else None

    def _clean(self) -> None:
        """Remove shards no row refers to and temporary files a kill left; number the next shard."""
        used = {track.shard for track in self.rows.values()}
        numbers = [-1]
        for item in self.dir.iterdir():
            match = SHARD.match(item.name)
            if match and item.name not in used:
                item.unlink(missing_ok=True)
            elif match:
                numbers.append(int(match.group(1)))
            elif item.name.startswith((".shard-", f".{TABLE}.tmp")):
                item.unlink(missing_ok=True)
        self._next = max(numbers) + 1

    # -- building --------------------------------------------------------------------------------
    def update(self, stamps: dict[str, str | None]) -> tuple[list[str], int, int]:
        """``(todo, kept, dropped)`` for a library whose files (relative paths) have ``stamps``: the
        paths to embed (new, changed, unreadable), the rows kept as they are, and the rows dropped
        (of changed files and files gone from the library; the table is rewritten without them)."""
        keep = {path: track for path, track in self.rows.items()
                if stamps.get(path) is not None and track.file_stamp == stamps[path]}
        dropped = len(self.rows) - len(keep)
        if dropped:
            self._rewrite(keep.values())
            self.rows = keep
        return [path for path in stamps if path not in keep], len(keep), dropped

    def add(self, path: str, stamp: str, vector: np.ndarray | None = None, genre: str = "",
            confidence: float | None = None, reason: str = "") -> None:
        """A finished track: its unit ``vector`` and predicted ``genre``, or (``vector`` None) a failed
        one with its ``reason``. Committed with the next :meth:`flush`."""
        ok = vector is not None
        if ok:
            vector = np.asarray(vector, np.float32).reshape(-1)
            if vector.shape != (self.dim,):
                raise ValueError(f"a {self.dim}-d index got a vector of shape {vector.shape}")
        confidence = None if confidence is None or not ok else round(float(confidence), 6)
        track = Track(path, "ok" if ok else "failed", "" if ok else reason, sys.intern(genre) if ok else "",
                      confidence, "", None, stamp)
        self._buffer.append((track, vector))
        self.added += 1
        if len(self._buffer) >= SHARD_FILES or time.monotonic() - self._flushed >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the buffered vectors as one shard (atomically), then commit their rows."""
        self._flushed = time.monotonic()
        if not self._buffer:
            return
        vectors = [vector for _, vector in self._buffer if vector is not None]
        tracks = [track for track, _ in self._buffer]
        if vectors:
            name = self._write_shard(np.stack(vectors))
            rows = iter(range(len(vectors)))
            tracks = [track._replace(shard=name, row=next(rows)) if vector is not None else track
                      for track, vector in self._buffer]
        self.table.add([track._asdict() for track in tracks])
        self.table.commit()
        self.rows.update((track.path, track) for track in tracks)
        self._buffer = []

    def _write_shard(self, vectors: np.ndarray | list[Track]) -> str:
        """``vectors`` (or the vectors of these tracks, copied from their shards a chunk at a time, so a
        merge never holds the matrix) as the next shard, atomically; its name."""
        from mgc.io import atomic_path

        name = f"shard-{self._next:06d}.npy"
        self._next += 1
        try:
            with atomic_path(self.dir / name) as tmp:
                if isinstance(vectors, np.ndarray):
                    with open(tmp, "wb") as fh:
                        np.save(fh, np.ascontiguousarray(vectors, np.float32))
                else:
                    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(vectors), self.dim))
                    self._gather(vectors, out)
                    out.flush()
                    del out
        except OSError as exc:
            raise UserError(f"cannot write the index {self.dir}: {exc.strerror or exc} ({len(self.rows)} tracks "
                            f"kept; run the same command again to go on)") from None
        return sys.intern(name)

    def finish(self, order: list[str] | None = None) -> None:
        """At the end of a build: commit, merge the shards when there are many (or many dead rows), and
        rewrite the table in ``order`` (the library's files) when it is not."""
        self.flush()
        rank = {path: i for i, path in enumerate(order or [])}
        tracks = sorted(self.rows.values(), key=lambda track: (rank.get(track.path, len(rank)), track.path))
        shards = {track.shard for track in tracks if track.shard}
        live = sum(1 for track in tracks if track.shard)
        total = sum(self._shard_rows(name) or 0 for name in shards)
        if len(shards) > MAX_SHARDS or total - live > MAX_DEAD * max(total, 1):
            name = self._write_shard([track for track in tracks if track.shard])
            rows = iter(range(live))
            tracks = [track._replace(shard=name, row=next(rows)) if track.shard else track for track in tracks]
        elif [track.path for track in tracks] == list(self.rows):
            return
        self._rewrite(tracks)
        self.rows = {track.path: track for track in tracks}
        self._clean()

    def _gather(self, tracks: list[Track], out: np.ndarray | None = None, chunk: int = 8192) -> np.ndarray:
        """The vectors of ``tracks`` (each with a shard), in their order, a shard and a chunk at a time
        (into ``out``, e.g. a memory-mapped file, when given)."""
        out = np.empty((len(tracks), self.dim), np.float32) if out is None else out
        by_shard: dict[str, list[tuple[int, int]]] = {}
        for i, track in enumerate(tracks):
            by_shard.setdefault(track.shard, []).append((i, track.row))
        for name, places in by_shard.items():
            data = np.load(self.dir / name, mmap_mode="r")
            where, take = (np.array(column, np.int64) for column in zip(*places))
            for a in range(0, len(where), chunk):
                out[where[a:a + chunk]] = data[take[a:a + chunk]]
        return out

    # -- reading ---------------------------------------------------------------------------------
    def failed(self) -> list[Track]:
        return [track for track in self.rows.values() if track.status != "ok"]

    def load(self) -> Entries:
        """The ok tracks (committed) and their vectors."""
        tracks = [track for track in self.rows.values() if track.status == "ok" and track.shard]
        vectors = self._gather(tracks) if tracks else np.zeros((0, self.dim), np.float32)
        return Entries([track.path for track in tracks], [track.genre for track in tracks],
                       np.array([np.nan if track.confidence is None else track.confidence for track in tracks]),
                       vectors)

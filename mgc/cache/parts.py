"""Extraction in parts: ``extract --part i/N`` workers and ``extract --merge``.

Track ``t`` belongs to part ``sha256(t) mod N`` (0-based, like Slurm array and Kubernetes
completion indexes). A stable hash of the track id, not its position, so every machine computes
the same partition from the manifest alone and a track keeps its part when the manifest gains,
loses or reorders tracks; the N parts cover every track exactly once.

Worker i writes its own shards into ``<cache>/part-i-of-N/`` with its own lock and numbering, so
N workers on N machines can share one cache directory on shared storage, and a rerun skips what
it committed. It writes no tables: it has a part of the data only. ``--merge`` (or any plain
extract) adopts the committed part shards into the cache index with one atomic write
(:meth:`ShardStore.adopt`), so every reader of the cache sees them, then writes the tables.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from mgc.cache.builder import ExtractResult, fill, finish, open_cache, pending
from mgc.cache.store import ShardStore, cache_dir, cache_settings
from mgc.config import Config
from mgc.errors import UserError
from mgc.features import N_FEATURES
from mgc.io import MISSING, file_stamp


@dataclass(frozen=True)
class Part:
    """Part ``index`` of ``count`` (``--part index/count``)."""

    index: int
    count: int

    @property
    def name(self) -> str:
        return f"part-{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass
class PartResult:
    part: Part
    directory: Path
    n_tracks: int  # of this part
    n_ok: int
    n_failed: int
    n_extracted: int  # done by this run (the rest came from the cache)


def parse_part(text: str) -> Part:
    """``"i/N"`` with ``0 <= i < N``, else a UserError."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match:
        raise UserError(f"--part {text!r}: expected i/N, e.g. --part 0/4 (parts are numbered 0 to N-1)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or index >= count:
        hint = f"0/{count} to {count - 1}/{count}" if count >= 1 else "N must be at least 1"
        raise UserError(f"--part {text}: need 0 <= i < N ({hint})")
    return Part(index, count)


def part_of(track_ids, count: int) -> np.ndarray:
    """The part (0 .. count-1) of each track id: a stable hash, the same on every machine."""
    return np.array(
        [int.from_bytes(hashlib.sha256(str(t).encode()).digest()[:8], "big") % count for t in track_ids], dtype=int
    )


def select(tracks: pd.DataFrame, part: Part) -> pd.DataFrame:
    """The rows of ``tracks`` in ``part``, in manifest order."""
    return tracks[part_of(tracks["track_id"], part.count) == part.index]


def extract_part(
    config: Config,
    tracks: pd.DataFrame,
    part: Part,
    *,
    workers: int | None = None,
    progress: bool = True,
    retry_failures: bool = False,
) -> PartResult:
    """Extract the tracks of ``part`` that no committed record covers into ``<cache>/<part.name>/``."""
    store = ShardStore(cache_dir(config), N_FEATURES)
    store.write_settings(cache_settings(config))
    own = ShardStore(store.directory / part.name, N_FEATURES)
    own.directory.mkdir(parents=True, exist_ok=True)
    mine = select(tracks, part)
    stamps = {path: file_stamp(path) for path in mine["path"]}
    with own.lock():
        own.open(cache_settings(config))
        latest, _ = store.latest(store.unadopted())  # the whole cache: reuse any earlier run's work
        tasks = pending(latest, mine, stamps, retry_failures)
        extracted = fill(config, own, tasks, stamps, workers, progress, desc=f"extract {part}")
    latest, _ = store.latest(store.unadopted())
    status = mine[["track_id", "path"]].merge(latest, on=["track_id", "path"], how="left")["status"]
    status[mine["path"].map(stamps).eq(MISSING).to_numpy()] = "failed"  # as track_status counts them
    return PartResult(part, own.directory, len(mine), int((status == "ok").sum()), int((status == "failed").sum()),
                      extracted)


def merge(config: Config, tracks: pd.DataFrame) -> ExtractResult:
    """Adopt the workers' shards and write the tables, extracting nothing; a UserError naming
    the unfinished parts when a track has no record of its current file."""
    with open_cache(config, tracks) as (store, adopted, stamps, missing):
        if missing:
            raise UserError(_missing_message(store, [t for t, _ in missing], len(tracks)))
        return replace(finish(config, store, tracks, stamps), n_adopted=adopted)


def _missing_message(store: ShardStore, missing: list[str], n_tracks: int) -> str:
    text = f"extract --merge: {len(missing)} of {n_tracks} tracks have no record of their current file in the cache"
    started = {Part(index, count) for index, count, _ in store.part_dirs()}
    if not started:
        return text + "; run the extract --part i/N workers first (or a plain extract)"
    labels = []
    for count in sorted({part.count for part in started}):
        for index in sorted(set(part_of(missing, count))):
            labels.append(f"{index}/{count}" + ("" if Part(index, count) in started else " (not started)"))
    shown = ", ".join(labels[:8]) + (f" and {len(labels) - 8} more" if len(labels) > 8 else "")
    several = len(labels) > 1
    return (f"{text}: part{'s' * several} {shown} unfinished; run extract --part for {'them' if several else 'it'} "
            "again (or a plain extract to do the rest here)")

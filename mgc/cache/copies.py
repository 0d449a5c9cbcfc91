"""The copies cache: ``[augment] copies`` waveform-augmented extra copies of baseline_train tracks.

Copy ``k`` (1..N) of track ``t`` is its clip, decoded as the main cache decodes it, changed by
:func:`mgc.audio.augment.augment_waveform` with :func:`mgc.audio.augment.copy_rng` (the run's
seed, ``t``, ``k``), and stored with both views under the id ``f"{t}{COPY_SEP}{k}"``. It lives
in ``<cache>/copies-<key>/`` (``key`` hashes the waveform settings and the seed, inside the main
cache's folder, which hashes the audio and spectrogram settings), written with the main cache's
machinery (:mod:`mgc.cache.builder`, :class:`ShardStore`): the same shards, records and parallel
workers, resumable shard by shard, a failure being a record that never stops the run. Copies
never enter ``features.csv``, ``failures.csv`` or the feature statistics: they are training
examples only, and only of the tracks the caller passes (extract passes baseline_train's).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from mgc.cache.builder import Task, clip_views, fill, pending
from mgc.cache.store import ShardStore, cache_dir, cache_settings
from mgc.config import AudioConfig, AugmentConfig, Config, SpectrogramConfig
from mgc.features import N_FEATURES
from mgc.io import file_stamp, settings_hash
from mgc.parallel import Done, Failed

COPY_SEP = "~copy"  # copy id = f"{track_id}{COPY_SEP}{k}"
COPIES_FORMAT = 1  # bump whenever a copy's audio changes for the same settings


@dataclass
class CopiesResult:
    directory: Path
    n_tracks: int  # tracks copied
    n_copies: int  # copies ready (ok records)
    n_extracted: int  # copies made by this run (the rest came from the cache)
    n_failed: int


def copy_id(track_id: str, k: int) -> str:
    """The id of copy ``k`` (1..N) of ``track_id``."""
    return f"{track_id}{COPY_SEP}{int(k)}"


def original_id(copy: str) -> str:
    """The track a copy id was made from."""
    return str(copy).rsplit(COPY_SEP, 1)[0]


def copy_number(copy: str) -> int:
    """The ``k`` of a copy id."""
    return int(str(copy).rsplit(COPY_SEP, 1)[1])


def copies_settings(config: Config) -> dict:
    """Everything besides the main cache's settings that changes what a copy holds."""
    a = config.augment
    return {
        "format": COPIES_FORMAT,
        "copies": a.copies,
        "speed": a.speed,
        "pitch_semitones": a.pitch_semitones,
        "noise_snr_db": a.noise_snr_db,
        "seed": config.run.seed,
    }


def copies_dir(config: Config) -> Path:
    """``<cache>/copies-<key>``: a new folder whenever a waveform setting or the seed changes."""
    return cache_dir(config) / f"copies-{settings_hash(copies_settings(config))}"


def process_copy(task: Task, audio: AudioConfig, spec: SpectrogramConfig, augment: AugmentConfig,
                 seed: int) -> Done | Failed:
    """One copy's views (a worker function, like :func:`mgc.cache.builder.process_track`):
    ``task`` is ``(copy id, path of the original)``."""
    from mgc.audio.augment import augment_waveform, copy_rng

    rng = copy_rng(seed, original_id(task[0]), copy_number(task[0]))
    return clip_views(task, audio, spec, partial(augment_waveform, sample_rate=audio.sample_rate,
                                                 augment=augment, rng=rng))


def _copy_rows(config: Config, tracks: pd.DataFrame) -> pd.DataFrame:
    """One row (track_id = copy id, path = the original's) per copy, track by track."""
    n = config.augment.copies
    ids = [copy_id(t, k) for t in tracks["track_id"] for k in range(1, n + 1)]
    paths = [p for p in tracks["path"] for _ in range(n)]
    return pd.DataFrame({"track_id": pd.Series(ids, dtype=object), "path": pd.Series(paths, dtype=object)})


def extract_copies(
    config: Config,
    tracks: pd.DataFrame,
    *,
    workers: int | None = None,
    progress: bool = True,
    retry_failures: bool = False,
) -> CopiesResult:
    """Make the ``[augment] copies`` copies of each of ``tracks`` (columns track_id, path; the
    caller picks them: extract passes the baseline_train tracks whose extraction worked) that no
    committed record covers (failed ones too with ``retry_failures``), into :func:`copies_dir`."""
    rows = _copy_rows(config, tracks)
    store = ShardStore(copies_dir(config), N_FEATURES)
    store.directory.mkdir(parents=True, exist_ok=True)
    stamps = {path: file_stamp(path) for path in tracks["path"]}
    with store.lock():
        store.open({**copies_settings(config), "cache": cache_settings(config)})
        latest, _ = store.latest()
        tasks = pending(latest, rows, stamps, retry_failures)
        args = (config.audio, config.spectrogram, config.augment, config.run.seed)
        extracted = fill(config, store, tasks, stamps, workers, progress, desc="copies", work=process_copy,
                         args=args, unit="copy")
        latest, _ = store.latest()
    status = rows.merge(latest, on=["track_id", "path"], how="left")["status"]
    return CopiesResult(store.directory, len(tracks), int((status == "ok").sum()), extracted,
                        int((status == "failed").sum()))


def copy_shards(config: Config, track_ids) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(TFRecord files, copy ids, their originals)`` for the ready copies (latest ok record,
    ``k <= [augment] copies``) of ``track_ids``: the files sorted (full paths), the ids ordered
    as ``track_ids`` then by ``k``. Empty when there are no copies to read. A file may hold
    other records too: read it through the ids (as :func:`mgc.input.tfdata` reads the cache)."""
    empty = ([], np.array([], dtype=str), np.array([], dtype=str))
    directory = copies_dir(config)
    if config.augment.copies == 0 or not directory.is_dir():
        return empty
    store = ShardStore(directory, N_FEATURES)
    latest, _ = store.latest()
    ok = latest[latest["status"] == "ok"].drop_duplicates("track_id", keep="last")
    if ok.empty:
        return empty
    order = {str(t): i for i, t in enumerate(track_ids)}
    originals = ok["track_id"].map(original_id)
    numbers = ok["track_id"].map(copy_number)
    keep = originals.isin(order) & (numbers <= config.augment.copies)
    chosen = pd.DataFrame({"copy": ok["track_id"][keep], "original": originals[keep], "k": numbers[keep],
                           "shard": ok["shard"][keep]})
    if chosen.empty:
        return empty
    chosen["position"] = chosen["original"].map(order)
    chosen = chosen.sort_values(["position", "k"], kind="stable")
    files = sorted(str(directory / name) for name in set(chosen["shard"]))
    return files, chosen["copy"].to_numpy(dtype=str), chosen["original"].to_numpy(dtype=str)

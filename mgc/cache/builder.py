"""Extract both views of every track into the cache, in parallel and resumably.

Worker processes (:mod:`mgc.parallel`: forked from a clean, pre-warmed server, so they never
inherit TensorFlow's state) decode a clip and compute
its features and log-mel; the parent serializes the results in manifest order into shards of
``[extract] shard_size`` tracks. Every committed shard is skipped by the next run, so an
interrupted extraction (Ctrl-C, ``kill -9``, a crash) resumes where it stopped and ends with the
same ``features.csv``. A bad file only becomes a row of ``failures.csv``. ``extract --shard``
workers and ``--merge`` (mgc.cache.parts) reuse these pieces on their part of the manifest.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from mgc import interrupt
from mgc.cache.records import load_writer, serialize
from mgc.cache.store import Shard, ShardStore, cache_dir, cache_settings
from mgc.config import AudioConfig, Config, SpectrogramConfig
from mgc.errors import AudioError, UserError
from mgc.features import N_FEATURES, extract_views, feature_columns
from mgc.io import MISSING, atomic_write_csv, file_stamp
from mgc.parallel import Done, Failed, run_parallel, start_server

Task = tuple[str, str]  # track_id, path
NOT_FOUND = "file not found"
PRELOAD = ("mgc.parallel_preload",)  # what the workers' fork server imports: warm librosa


@dataclass
class ExtractResult:
    cache_dir: Path
    features_csv: Path
    failures_csv: Path
    n_tracks: int
    n_ok: int
    n_failed: int
    n_extracted: int  # done by this run (the rest came from the cache)
    n_adopted: int = 0  # shards of ``extract --shard`` workers merged by this run


def process_track(task: Task, audio: AudioConfig, spec: SpectrogramConfig) -> Done | Failed:
    """Decode one track and compute its views: ``Done(task, (features, log_mel_f16))``, or
    ``Failed(task, reason)`` when the file is unusable."""
    return clip_views(task, audio, spec)


def clip_views(task: Task, audio: AudioConfig, spec: SpectrogramConfig,
               change: Callable[[np.ndarray], np.ndarray] | None = None) -> Done | Failed:
    """:func:`process_track`'s work, with ``change`` (when given) applied to the decoded clip
    before its views are computed: how the augmented copies (mgc.cache.copies) are made."""
    from mgc.audio import load_clip

    _, path = task
    try:
        y = load_clip(
            path,
            sample_rate=audio.sample_rate,
            duration=audio.duration,
            offset=audio.offset,
            min_duration=audio.min_duration,
            decoder=audio.decoder,
        )
        if change is not None:
            y = change(y)
        features, spectrogram = extract_views(y, audio.sample_rate, spec)
    except AudioError as exc:
        return Failed(task, str(exc))
    except Exception as exc:  # librosa on pathological audio; never stop the run for one file
        return Failed(task, f"feature extraction failed: {type(exc).__name__}: {exc}"[:300])
    if not (np.all(np.isfinite(features)) and np.all(np.isfinite(spectrogram))):
        return Failed(task, "features are not finite")
    return Done(task, (features, spectrogram.astype(np.float16)))


def _features_frame(rows: pd.DataFrame, matrix: np.ndarray) -> pd.DataFrame:
    """Index rows (with ``row`` into ``matrix``) as FMA's features table."""
    return pd.DataFrame(
        matrix[rows["row"].to_numpy(dtype=int)],
        index=pd.Index(rows["track_id"], name="track_id"),
        columns=feature_columns(),
    )


def track_status(store: ShardStore, tracks: pd.DataFrame, stamps: dict) -> tuple[pd.DataFrame, np.ndarray]:
    """Each track's current record (columns track_id, path, status, reason, row; manifest order)
    and the features matrix ``row`` points into. A file missing now is failed "file not found"
    whatever the cache holds: missing files are never recorded, so when the file comes back
    unchanged (an unmounted share remounted) its cached record counts again."""
    latest, matrix = store.latest()
    merged = tracks[["track_id", "path"]].merge(latest, on=["track_id", "path"], how="left")
    gone = merged["path"].map(stamps).eq(MISSING).to_numpy()
    merged.loc[gone, ["status", "reason", "row"]] = ["failed", NOT_FOUND, -1]
    return merged, matrix


def _write_tables(config: Config, store: ShardStore, tracks: pd.DataFrame,
                  stamps: dict) -> tuple[Path, Path, int, int]:
    """Assemble ``features.csv`` (FMA's format) and ``failures.csv`` in manifest order. When no
    track worked, nothing is written: a failed run never replaces the good tables of an earlier one."""
    merged, matrix = track_status(store, tracks, stamps)
    ok = merged[merged["status"] == "ok"]
    failed = merged[merged["status"] == "failed"]
    workdir = Path(config.run.workdir)
    features_csv, failures_csv = workdir / "features.csv", workdir / "failures.csv"
    if ok.empty:
        raise UserError(_nothing_extracted(failed, len(tracks)))
    interrupt.check()  # Ctrl-C during the run: keep the shards, leave the tables as they were
    frame = _features_frame(ok, matrix)
    atomic_write_csv(features_csv, frame)
    atomic_write_csv(failures_csv, failed[["track_id", "path", "reason"]], index=False)
    return features_csv, failures_csv, len(ok), len(failed)


def _nothing_extracted(failed: pd.DataFrame, n_tracks: int) -> str:
    """One line saying why every track failed: the commonest reasons with their counts."""
    counts = failed["reason"].fillna("no record").value_counts()
    reasons = "; ".join(f"{reason[:120]} ({n})" for reason, n in counts.head(3).items())
    more = f"; {len(counts) - 3} other reasons" if len(counts) > 3 else ""
    hint = ""
    if len(counts) == 1 and counts.index[0] == NOT_FOUND:
        folders = sorted({os.path.dirname(p) for p in failed["path"]})
        hint = f" (is the dataset folder there and mounted? e.g. {os.path.commonpath(folders) or folders[0]})"
    return (f"no track could be extracted: {len(failed)} of {n_tracks} failed: {reasons}{more}{hint}; "
            "features.csv and failures.csv were left as they were")


def extract(
    config: Config,
    tracks: pd.DataFrame,
    *,
    workers: int | None = None,
    progress: bool = True,
    retry_failures: bool = False,
) -> ExtractResult:
    """Fill the cache for ``tracks`` (columns track_id, path) and write the two tables. Shards
    that ``extract --shard`` workers committed are adopted first, so their tracks are reused."""
    with open_cache(config, tracks, retry_failures) as (store, adopted, stamps, tasks):
        extracted = fill(config, store, tasks, stamps, workers, progress)
        return replace(finish(config, store, tracks, stamps), n_extracted=extracted, n_adopted=adopted)


@contextmanager
def open_cache(config: Config, tracks: pd.DataFrame, retry_failures: bool = False):
    """The run's cache, locked and opened, with the workers' shards adopted: yields ``(store,
    adopted shard count, file stamps of tracks, the tracks still to extract)``."""
    store = ShardStore(cache_dir(config), N_FEATURES)
    store.directory.mkdir(parents=True, exist_ok=True)
    with store.lock():
        store.open(cache_settings(config))
        adopted = store.adopt_parts()
        latest, _ = store.latest()
        stamps = {path: file_stamp(path) for path in tracks["path"]}
        yield store, adopted, stamps, pending(latest, tracks, stamps, retry_failures)


def pending(latest: pd.DataFrame, tracks: pd.DataFrame, stamps: dict, retry_failures: bool) -> list[Task]:
    """The tracks without a record of their current file (``latest`` from :meth:`ShardStore.latest`),
    failed ones too with ``retry_failures``. Missing files are not tasks: :func:`track_status`
    reports them without recording anything."""
    if retry_failures:
        latest = latest[latest["status"] == "ok"]
    done = set(zip(latest["track_id"], latest["path"], latest["stamp"]))
    return [(t, p) for t, p in zip(tracks["track_id"], tracks["path"])
            if (t, p, stamps[p]) not in done and stamps[p] != MISSING]


def fill(config: Config, store: ShardStore, tasks: list[Task], stamps: dict, workers: int | None,
         progress: bool, desc: str = "extract", work: Callable[..., Done | Failed] | None = None,
         args: tuple | None = None, unit: str = "track") -> int:
    """Extract ``tasks`` into new shards of ``store`` (whose lock the caller holds); returns how
    many tracks were done. Finished tracks are committed even on Ctrl-C or a crash.

    ``work(task, *args)`` computes one task's ``(features, log_mel_f16)`` in the workers (a
    module-level function; by default :func:`process_track` with the config's audio and
    spectrogram settings); a task's id (its first item) becomes its record's id."""
    from tqdm import tqdm

    n_workers = workers if workers is not None else (config.extract.workers or os.cpu_count() or 1)
    n_workers = max(1, min(n_workers, len(tasks)))
    numbers = store.shard_numbers()
    number = numbers[-1] + 1 if numbers else 0
    shard, extracted = Shard(), 0
    if n_workers > 1:
        start_server(PRELOAD)  # the workers' server warms up while ...
        load_writer()  # ... the parent imports what it writes the shards with
    if work is None:  # looked up now, not at import: tests replace process_track
        work = process_track
    args = (config.audio, config.spectrogram) if args is None else args
    bar = tqdm(total=len(tasks), desc=desc, unit=unit, disable=not progress or not tasks)
    try:
        for result in run_parallel(tasks, work, workers=n_workers, args=args, preload=PRELOAD):
            track_id, path = result.task
            if isinstance(result, Failed):
                shard.failed.append((track_id, path, stamps[path], result.reason))
            else:
                features, spectrogram = result.value
                shard.track_ids.append(track_id)
                shard.paths.append(path)
                shard.stamps.append(stamps[path])
                shard.features.append(features)
                shard.records.append(serialize(track_id, spectrogram, features))
            extracted += 1
            bar.update()
            interrupt.check()  # a Ctrl-C whose KeyboardInterrupt was swallowed somewhere still stops
            if len(shard) >= config.extract.shard_size:
                store.write(number, shard)
                number, shard = number + 1, Shard()
    finally:
        # Keep finished work on Ctrl-C or a crash: what is in the buffer is complete per track.
        if len(shard):
            store.write(number, shard)
        bar.close()
    return extracted


def finish(config: Config, store: ShardStore, tracks: pd.DataFrame, stamps: dict) -> ExtractResult:
    """Write ``features.csv`` and ``failures.csv`` from the store (n_extracted left at 0); a
    UserError saying why, and nothing written, when no track worked."""
    features_csv, failures_csv, n_ok, n_failed = _write_tables(config, store, tracks, stamps)
    return ExtractResult(store.directory, features_csv, failures_csv, len(tracks), n_ok, n_failed, 0)


def feature_table(config: Config, track_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Cached features as a DataFrame (index track_id, FMA's columns), latest record per track."""
    store = ShardStore(cache_dir(config), N_FEATURES)
    latest, matrix = store.latest()
    ok = latest[latest["status"] == "ok"].drop_duplicates("track_id", keep="last")
    frame = _features_frame(ok, matrix)
    return frame if track_ids is None else frame.loc[list(track_ids)]

"""Stage ``extract``: the manifest's audio -> TFRecord cache, features.csv, failures.csv.

``--part i/N`` runs one of N workers (its part of the manifest, its own shards, no tables);
``--merge`` then checks every track is done and writes what a plain extract writes
(mgc.cache.parts). With ``[augment] copies = N`` a plain extract (or ``--merge``) then makes N
augmented copies of every baseline_train track that extracted (mgc.cache.copies); they never
change the tables or the feature statistics. When a model of ``[train] models`` reads the
pretrained view, a plain extract (or ``--merge``) then computes it for every track that
extracted (mgc.cache.pretrained, the model of ``[models.musicnn]``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mgc.cache import (
    ExtractResult,
    PartResult,
    ShardStore,
    cache_dir,
    extract,
    extract_copies,
    extract_part,
    parse_part,
)
from mgc.cache import merge as merge_cache
from mgc.cache.builder import track_status
from mgc.config import Config
from mgc.contract import PRETRAINED_MODEL, needs_pretrained
from mgc.datasets.manifest import read_manifest
from mgc.errors import UserError
from mgc.features import N_FEATURES
from mgc.input import fit_scaler
from mgc.io import file_stamp

FEATURE_STATS = "feature_stats.json"


def run_extract(
    config: Config, *, workers: int | None = None, retry_failures: bool = False, progress: bool = True, echo=print,
    part: str | None = None, merge: bool = False,
) -> ExtractResult | PartResult:
    """Extract every manifest track (resuming), then fit feature statistics on baseline_train;
    or with ``part`` ("i/N") only part i's tracks, or with ``merge`` none (see above)."""
    part = None if part is None else parse_part(part)
    if part is not None and merge:
        raise UserError("--part and --merge are separate runs: the N --part workers first, then one --merge")
    if merge and retry_failures:
        raise UserError("--merge extracts nothing; give --retry-failures to the --part workers")
    manifest = read_manifest(config)
    if part is not None:
        return _run_part(config, manifest, part, workers, retry_failures, progress, echo)
    if merge:
        result = merge_cache(config, manifest)
    else:
        result = extract(config, manifest, workers=workers, progress=progress, retry_failures=retry_failures)
    if result.n_adopted:
        echo(f"extract: merged {result.n_adopted} shards written by extract --part workers")
    cached = result.n_tracks - result.n_extracted
    echo(
        f"extract: {result.n_ok} of {result.n_tracks} tracks ready ({cached} from the cache, "
        f"{result.n_extracted} extracted now), {result.n_failed} failed"
        + (f" (reasons in {result.failures_csv})" if result.n_failed else "")
    )
    echo(f"extract: features -> {result.features_csv}; cache -> {result.cache_dir}")
    train = manifest[manifest["split"] == "baseline_train"]
    fit_scaler(config, train, Path(config.run.workdir) / FEATURE_STATS)
    if needs_pretrained(config.train.models):
        _run_pretrained(config, manifest, workers, retry_failures, progress, echo)
    if config.augment.copies > 0:
        _run_copies(config, train, workers, retry_failures, progress, echo)
    return result


def _ready(config: Config, tracks: pd.DataFrame) -> pd.DataFrame:
    """The tracks of ``tracks`` whose current file extracted (the main cache holds an ok record)."""
    stamps = {path: file_stamp(path) for path in tracks["path"]}
    status, _ = track_status(ShardStore(cache_dir(config), N_FEATURES), tracks, stamps)
    return tracks[status["status"].eq("ok").to_numpy()]


def pretrained_job(config: Config):
    """``(requested, settings, embed)`` of the config's pretrained view: its ``[models.musicnn]``
    settings, the cache settings (mgc.cache.pretrained) and the embedder (weights downloaded and
    converted once), what :func:`mgc.cache.pretrained.extract_pretrained` takes."""
    from mgc.cache.pretrained import pretrained_settings
    from mgc.input.pretrained_view import requested
    from mgc.models.musicnn import embedder
    from mgc.models.musicnn_weights import weights_id

    wanted = requested(config)
    embed, dim = embedder(wanted["weights"], wanted["embedding"])
    return wanted, pretrained_settings(config, PRETRAINED_MODEL, weights_id(wanted["weights"]), wanted["embedding"],
                                       dim), embed


def _run_pretrained(config: Config, manifest: pd.DataFrame, workers, retry_failures, progress, echo) -> None:
    """The pretrained view of every track that extracted: ``[models.musicnn]``'s embedding."""
    from mgc.cache.pretrained import extract_pretrained

    wanted, settings, embed = pretrained_job(config)
    dim = settings["dim"]
    result = extract_pretrained(config, _ready(config, manifest), settings, wanted, embed, workers=workers,
                                progress=progress, retry_failures=retry_failures)
    echo(f"extract: pretrained view ({PRETRAINED_MODEL} {wanted['weights']}, {wanted['embedding']}, {dim}-d) of "
         f"{result.n_ok} of {result.n_tracks} tracks ({result.n_tracks - result.n_extracted} from the cache, "
         f"{result.n_extracted} extracted now), {result.n_failed} failed -> {result.view_file}")


def _run_copies(config: Config, train: pd.DataFrame, workers, retry_failures, progress, echo) -> None:
    """The augmented copies of the baseline_train tracks ``train`` whose current file extracted."""
    copies = extract_copies(config, _ready(config, train), workers=workers, progress=progress,
                            retry_failures=retry_failures)
    echo(
        f"extract: {copies.n_copies} augmented copies of {copies.n_tracks} baseline_train tracks ready "
        f"({copies.n_extracted} made now)" + (f", {copies.n_failed} failed" if copies.n_failed else "")
        + f" -> {copies.directory}"
    )


def _run_part(config, manifest, part, workers, retry_failures, progress, echo) -> PartResult:
    result = extract_part(config, manifest, part, workers=workers, progress=progress, retry_failures=retry_failures)
    echo(
        f"extract --part {part}: {result.n_ok} of {result.n_tracks} tracks of this part ready "
        f"({result.n_tracks - result.n_extracted} from the cache, {result.n_extracted} extracted now), "
        f"{result.n_failed} failed; shards -> {result.directory}"
    )
    echo(f"extract --part {part}: when all {part.count} parts are done, `extract --merge` (or a plain extract) "
         "writes features.csv, failures.csv and feature_stats.json")
    return result

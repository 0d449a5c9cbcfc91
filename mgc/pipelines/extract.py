"""Stage ``extract``: the manifest's audio -> TFRecord cache, features.csv, failures.csv."""

from __future__ import annotations

from pathlib import Path

from mgc.cache import ExtractResult, extract
from mgc.config import Config
from mgc.input import fit_scaler
from mgc.datasets.manifest import read_manifest

FEATURE_STATS = "feature_stats.json"


def run_extract(
    config: Config, *, workers: int | None = None, retry_failures: bool = False, progress: bool = True, echo=print
) -> ExtractResult:
    """Extract every manifest track (resuming), then fit feature statistics on baseline_train."""
    manifest = read_manifest(config)
    result = extract(config, manifest, workers=workers, progress=progress, retry_failures=retry_failures)
    cached = result.n_tracks - result.n_extracted
    echo(
        f"extract: {result.n_ok} of {result.n_tracks} tracks ready ({cached} from the cache, "
        f"{result.n_extracted} extracted now), {result.n_failed} failed"
        + (f" (reasons in {result.failures_csv})" if result.n_failed else "")
    )
    echo(f"extract: features -> {result.features_csv}; cache -> {result.cache_dir}")
    train = manifest[manifest["split"] == "baseline_train"]
    fit_scaler(config, train, Path(config.run.workdir) / FEATURE_STATS)
    return result

"""The spectrogram + feature cache: sharded TFRecords keyed by the extraction settings."""

from mgc.cache.builder import ExtractResult, extract, feature_table, process_track
from mgc.cache.store import ShardStore, cache_dir, cache_settings

__all__ = [
    "ExtractResult",
    "ShardStore",
    "cache_dir",
    "cache_settings",
    "extract",
    "feature_table",
    "process_track",
]

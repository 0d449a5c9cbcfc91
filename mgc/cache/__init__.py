"""The spectrogram + feature cache: sharded TFRecords keyed by the extraction settings."""

from mgc.cache.builder import ExtractResult, extract, feature_table, process_track
from mgc.cache.parts import Part, PartResult, extract_part, merge, parse_part, part_of
from mgc.cache.store import ShardStore, cache_dir, cache_settings

__all__ = [
    "ExtractResult",
    "Part",
    "PartResult",
    "ShardStore",
    "cache_dir",
    "cache_settings",
    "extract",
    "extract_part",
    "feature_table",
    "merge",
    "parse_part",
    "part_of",
    "process_track",
]

"""The spectrogram + feature cache: sharded TFRecords keyed by the extraction settings."""

from mgc.cache.builder import ExtractResult, extract, feature_table, process_track
from mgc.cache.copies import COPY_SEP, CopiesResult, copies_dir, copy_shards, extract_copies, original_id
from mgc.cache.parts import Part, PartResult, extract_part, merge, parse_part, part_of
from mgc.cache.store import ShardStore, cache_dir, cache_settings

__all__ = [
    "COPY_SEP",
    "CopiesResult",
    "ExtractResult",
    "Part",
    "PartResult",
    "ShardStore",
    "cache_dir",
    "cache_settings",
    "copies_dir",
    "copy_shards",
    "extract",
    "extract_copies",
    "extract_part",
    "feature_table",
    "merge",
    "original_id",
    "parse_part",
    "part_of",
    "process_track",
]

"""Audio: decode any supported file, mix to mono, resample, and cut fixed-length clips."""

from mgc.audio.clip import fit_length, load_audio, load_clip
from mgc.audio.decode import DECODERS, decode

__all__ = ["DECODERS", "decode", "load_audio", "load_clip", "fit_length"]

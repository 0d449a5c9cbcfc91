"""Audio: decode any supported file, mix to mono, resample, and cut fixed-length clips."""

from mgc.audio.augment import augment_waveform, copy_rng
from mgc.audio.clip import fit_length, load_audio, load_clip
from mgc.audio.decode import DECODERS, decode

__all__ = ["DECODERS", "augment_waveform", "copy_rng", "decode", "load_audio", "load_clip", "fit_length"]

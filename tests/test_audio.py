"""Decoding and clipping on real recordings: both decoders, librosa parity, every format, bad files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import fixtures
from conftest import MUSIC, REAL_AUDIO, ROOT
from mgc.audio.clip import SILENCE_PEAK, check_usable, fit_length, load_audio, load_clip
from mgc.audio.decode import DECODERS, decode, decode_span
from mgc.errors import AudioError

SR = 22050
# Short real Ogg Vorbis clips (25 s drums + bass, 46 s strings, 5 s trumpet), all 22050 Hz mono.
REAL = [MUSIC[2], MUSIC[3], "sorohanro_-_solo-trumpet-06.ogg"]
DRUMS = REAL_AUDIO / MUSIC[2]


def tone(seconds: float = 1.0, sr: int = SR, amp: float = 1.0) -> np.ndarray:
    """440 Hz + a weaker 1320 Hz partial, peak about 0.4 * amp."""
    t = np.arange(int(round(seconds * sr))) / sr
    y = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 1320 * t)
    return (amp * y).astype(np.float32)


def write(path, y, sr: int = SR, **kwargs):
    sf.write(path, y, sr, **kwargs)
    return path


def dominant_hz(y: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(spectrum) * sr / len(y))


def best_lagged_correlation(a: np.ndarray, b: np.ndarray, max_lag: int = 2500) -> float:
    """Highest correlation of ``a`` with ``b`` shifted either way (codec / filter delays)."""
    n = min(len(a), len(b)) - max_lag
    best = -1.0
    for lag in range(max_lag):
        best = max(best,
                   np.corrcoef(a[lag:lag + n], b[:n])[0, 1],
                   np.corrcoef(a[:n], b[lag:lag + n])[0, 1])
    return float(best)


@pytest.mark.parametrize("name", REAL)
def test_real_recordings_decode_like_librosa(name):
    """Each real recording these tests rely on decodes, at its own rate and resampled, to what
    librosa.load gives (a missing file fails here too: load_audio raises "not found")."""
    import librosa

    path = str(REAL_AUDIO / name)
    for sr in (None, 16000):
        expected, rate = librosa.load(path, sr=sr, mono=True)
        y = load_audio(path, rate)
        assert y.dtype == np.float32 and y.shape == expected.shape and len(y) > 4 * rate
        np.testing.assert_allclose(y, expected, atol=1e-6, rtol=0)  # the soundfile parity above
        assert np.abs(y).max() > 0.05  # sound, not silence


# ---------------------------------------------------------------- tensorflow-io


@pytest.mark.parametrize("name", REAL)
def test_tfio_decoder_matches_soundfile_on_real_ogg(name):
    path = str(REAL_AUDIO / name)
    expected, rate = decode(path, "soundfile")
    samples, tfio_rate = decode(path, "tfio")
    assert rate == tfio_rate == SR
    assert samples.dtype == np.float32
    assert samples.shape == expected.shape and expected.shape[1] == 1
    assert expected.shape[0] > 4 * SR
    np.testing.assert_allclose(samples, expected, atol=1e-5, rtol=0)


def test_tfio_audio_ops_run():
    """Calls tfio.audio ops directly, so a broken tensorflow-io install fails here."""
    import librosa
    import tensorflow as tf
    import tensorflow_io as tfio

    expected, _ = sf.read(str(DRUMS), dtype="float32", always_2d=True)
    audio = tfio.audio.AudioIOTensor(str(DRUMS))
    assert int(audio.rate.numpy()) == SR
    assert audio.dtype == tf.float32
    assert audio.shape.numpy().tolist() == list(expected.shape)
    np.testing.assert_allclose(audio[SR:2 * SR].numpy(), expected[SR:2 * SR], atol=1e-5, rtol=0)

    y = tone(1.0)
    resampled = tfio.audio.resample(tf.constant(y[:, None]), rate_in=SR, rate_out=16000).numpy()[:, 0]
    assert resampled.shape == (16000,)
    assert dominant_hz(resampled, 16000) == pytest.approx(440, abs=2)
    assert np.max(np.abs(resampled)) == pytest.approx(np.max(np.abs(y)), rel=0.02)
    reference = librosa.resample(y, orig_sr=SR, target_sr=16000)
    assert best_lagged_correlation(resampled, reference, max_lag=100) > 0.999  # tfio delays ~32 samples


@pytest.mark.parametrize("fmt, subtype, channels", [
    ("WAV", "PCM_16", 1), ("WAV", "PCM_16", 2), ("WAV", "PCM_24", 1), ("WAV", "PCM_U8", 1),
    ("WAV", "FLOAT", 1), ("FLAC", "PCM_16", 1), ("FLAC", "PCM_24", 2),
])
def test_tfio_integer_pcm_scaling_matches_soundfile(tmp_path, fmt, subtype, channels):
    y = tone(1.0)  # an even number of frames: see test_tfio_odd_sized_wav_data
    y = y if channels == 1 else np.stack([y, -0.5 * y], axis=1)
    path = str(write(tmp_path / f"x.{fmt.lower()}", y, format=fmt, subtype=subtype))
    expected, rate = decode(path, "soundfile")
    samples, tfio_rate = decode(path, "tfio")
    assert rate == tfio_rate == SR
    assert samples.dtype == np.float32 and samples.shape == expected.shape == (len(y), channels)
    np.testing.assert_allclose(samples, expected, atol=1e-7, rtol=0)
    tolerance = 1 / 128 if subtype == "PCM_U8" else 4e-5  # 8-bit: unsigned, offset 128
    np.testing.assert_allclose(samples, y.reshape(len(y), channels), atol=tolerance, rtol=0)


@pytest.mark.xfail(raises=AudioError, strict=True,
                   reason="tensorflow-io 0.37 cannot read a WAV data chunk of an odd byte count")
def test_tfio_odd_sized_wav_data(tmp_path):
    y = tone(1.0)[:-1]  # 22049 frames x 3 bytes
    path = str(write(tmp_path / "x.wav", y, format="WAV", subtype="PCM_24"))
    samples, _ = decode(path, "tfio")
    np.testing.assert_allclose(samples[:, 0], y, atol=1e-6, rtol=0)


@pytest.mark.xfail(raises=AudioError, strict=True,
                   reason="tensorflow-io 0.37 returns 32-bit integer PCM WAV as float32 bit patterns")
def test_tfio_32bit_integer_wav(tmp_path):
    y = tone(0.5)
    path = str(write(tmp_path / "x.wav", y, format="WAV", subtype="PCM_32"))
    samples, _ = decode(path, "tfio")
    np.testing.assert_allclose(samples[:, 0], y, atol=1e-6, rtol=0)


# ---------------------------------------------------------------- librosa parity


@pytest.mark.parametrize("decoder", DECODERS)
def test_load_audio_matches_librosa_on_real_clip(decoder):
    import librosa

    expected = librosa.load(str(DRUMS), sr=16000, mono=True)[0]
    y = load_audio(str(DRUMS), 16000, decoder)
    assert y.dtype == np.float32 and y.ndim == 1
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, atol=1e-6 if decoder == "soundfile" else 1e-5, rtol=0)


def test_load_audio_at_native_rate_is_the_decoded_signal():
    samples, rate = decode(str(DRUMS))
    assert rate == SR
    np.testing.assert_array_equal(load_audio(str(DRUMS), SR), samples[:, 0])


def test_stereo_44k_mp3_is_mixed_to_mono_and_resampled_like_librosa(tmp_path):
    import librosa

    [path] = fixtures.write_fma_audio(tmp_path, [2], seconds=2.0)
    samples, rate = decode(str(path))
    assert rate == 44100 and samples.shape[1] == 2
    assert abs(samples.shape[0] - 2 * 44100) < 2000  # MP3 frames: about 2 s
    assert not np.allclose(samples[:, 0], samples[:, 1])  # really two different channels

    y = load_audio(str(path), SR)
    expected = librosa.load(str(path), sr=SR, mono=True)[0]
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, atol=1e-6, rtol=0)
    mixed = librosa.resample(samples.mean(axis=1), orig_sr=44100, target_sr=SR)
    np.testing.assert_allclose(y, mixed, atol=1e-6, rtol=0)

    clip = load_clip(str(path), sample_rate=SR, duration=3.0)
    assert clip.shape == (3 * SR,)
    np.testing.assert_allclose(clip[:len(expected)], expected, atol=1e-6, rtol=0)
    assert not clip[len(expected):].any()


# ---------------------------------------------------------------- a clip decodes only its span


def write_stereo_44k(path, seconds: float, fmt: str = "WAV", chunk_seconds: float = 30.0, seed: int = 0):
    """A 44.1 kHz stereo file (two different channels), written in chunks so that even a
    10-minute file never sits in this process's memory."""
    sr, rng = 44100, np.random.default_rng(seed)
    subtype = None if fmt == "MP3" else "PCM_16"
    with sf.SoundFile(path, "w", sr, 2, format=fmt, subtype=subtype) as out:
        done = 0
        total = int(round(seconds * sr))
        while done < total:
            n = min(int(chunk_seconds * sr), total - done)
            t = (done + np.arange(n)) / sr
            left = 0.3 * np.sin(2 * np.pi * 440 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.3 * t))
            right = 0.2 * np.sin(2 * np.pi * 660 * t) + 0.05 * rng.standard_normal(n)
            out.write(np.stack([left, right], axis=1).astype(np.float32))
            done += n
    return path


@pytest.fixture(scope="module")
def ten_minutes(tmp_path_factory):
    """A 10-minute 44.1 kHz stereo WAV (106 MB on disk; its float32 samples would be 212 MB)."""
    return str(write_stereo_44k(tmp_path_factory.mktemp("long") / "ten_minutes.wav", 600.0))


PEAK_MEMORY = """
import resource, sys
import numpy as np, librosa, soundfile
from mgc.audio.clip import load_clip

def maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB

short, long, how = sys.argv[1:4]
load_clip(short, duration=4.0, offset=2.0)  # the same work on an 8 s file: librosa's lazy imports, soxr
base = maxrss_mb()
if how == "span":
    y = load_clip(long, duration=4.0, offset=300.0)
else:  # the old way: the whole file decoded and resampled, then cut
    from mgc.audio.clip import load_audio
    y = load_audio(long, 22050)[300 * 22050:304 * 22050]
print(maxrss_mb() - base, len(y), float(np.max(np.abs(y))))
"""


@pytest.mark.slow
def test_clip_of_a_long_file_costs_no_more_memory_than_of_a_short_one(ten_minutes, tmp_path):
    # Decoding the whole 10-minute file took 636 MB at peak (400 MB above this baseline): its
    # stereo float32 samples alone are 600 s * 44100 * 2 * 4 bytes = 212 MB.
    short = str(write_stereo_44k(tmp_path / "eight_seconds.wav", 8.0))
    grown = {}
    for how in ("span", "whole"):
        done = subprocess.run([sys.executable, "-c", PEAK_MEMORY, short, ten_minutes, how], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        increase_mb, n, peak = done.stdout.split()
        assert int(n) == 4 * SR and float(peak) > 0.1
        grown[how] = float(increase_mb)
    print(f"\npeak memory above baseline for a 4 s clip of a 10-minute 44.1 kHz stereo WAV: "
          f"span {grown['span']:.0f} MB, whole file {grown['whole']:.0f} MB")  # pytest -s shows it
    assert grown["span"] < 60, f"peak memory grew by {grown['span']:.0f} MB for a 4 s clip"


def test_min_duration_counts_the_whole_file_after_offset_without_decoding_it(ten_minutes):
    span = decode_span(ten_minutes, offset=590.0, duration=4.0)
    assert span.rate == 44100 and span.frames == 600 * 44100 and span.start == 590 * 44100
    assert span.samples.shape == (4 * 44100, 2)
    assert load_clip(ten_minutes, duration=4.0, offset=590.0, min_duration=10.0).shape == (4 * SR,)
    with pytest.raises(AudioError, match=r"^too short: 10\.00 s of audio, need at least 10\.5 s$"):
        load_clip(ten_minutes, duration=4.0, offset=590.0, min_duration=10.5)
    with pytest.raises(AudioError, match=r"^too short: 0\.00 s"):  # offset past the end
        load_clip(ten_minutes, duration=4.0, offset=601.0)
    past = decode_span(ten_minutes, offset=601.0, duration=4.0)
    assert past.samples.shape == (0, 2) and past.frames == 600 * 44100


def _librosa_clip(path: str, sr: int, offset: float, duration: float) -> np.ndarray:
    import librosa

    y = librosa.load(path, sr=sr, mono=True, offset=offset, duration=duration)[0]
    return fit_length(y, int(round(duration * sr)))


SPANS = [  # (file, offset, duration): real Ogg Vorbis at 22050 Hz; 44.1 kHz stereo files
    ("drums.ogg", 3.7, 4.0), ("vibe.ogg", 1.3, 4.0), ("stereo.wav", 5.3, 4.0), ("stereo.flac", 17.5, 4.0),
    ("stereo.wav", 0.0, 4.0), ("stereo.au", 7.1, 3.0), ("stereo.mp3", 2.9, 4.0),
]
TFIO_READS = ("ogg", "wav", "flac")  # tfio reads no AU, and its MP3 decoder is not libsndfile's
SPAN_CASES = [(*case, decoder) for decoder in DECODERS for case in SPANS
              if decoder == "soundfile" or case[0].endswith(TFIO_READS)]


@pytest.fixture(scope="module")
def span_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spans")
    files = {"drums.ogg": str(DRUMS), "vibe.ogg": str(REAL_AUDIO / MUSIC[0])}
    for fmt in ("WAV", "FLAC", "AU", "MP3"):
        files[f"stereo.{fmt.lower()}"] = str(write_stereo_44k(folder / f"stereo.{fmt.lower()}", 20.0, fmt=fmt))
    return files


@pytest.mark.parametrize("name, offset, duration, decoder", SPAN_CASES)
def test_clip_from_offset_equals_librosa_load_of_that_span(span_files, name, offset, duration, decoder):
    path = span_files[name]
    if name.startswith("stereo"):
        assert sf.info(path).samplerate == 44100 and sf.info(path).channels == 2
    for sr in (SR, 16000):
        expected = _librosa_clip(path, sr, offset, duration)  # ends zero-padded past the end (17.5 + 4 > 20)
        clip = load_clip(path, sample_rate=sr, duration=duration, offset=offset, decoder=decoder)
        assert clip.dtype == np.float32 and clip.shape == expected.shape == (int(round(duration * sr)),)
        # soundfile: librosa.load's own seek + read + resample, so the same bits; tfio's Vorbis
        # differs from libsndfile's by float rounding (see test_tfio_decoder_matches_soundfile_on_real_ogg)
        np.testing.assert_allclose(clip, expected, atol=0 if decoder == "soundfile" else 1e-6, rtol=0)


def test_check_usable_is_the_one_rule():
    y = tone(0.3)
    with pytest.raises(AudioError, match=r"^too short: 0\.30 s of audio, need at least 1 s$"):
        check_usable(y, SR, 1.0)
    check_usable(y, SR, 0.1)
    with pytest.raises(AudioError, match=r"^silent: peak amplitude below -80 dBFS$"):
        check_usable(np.zeros(SR, np.float32), SR, 0.5)
    with pytest.raises(AudioError, match=r"^too short: 0\.00 s"):
        check_usable(np.zeros(0, np.float32), SR, 0.0)
    with pytest.raises(AudioError, match="^too short"):  # a clip of a file with too little audio left
        check_usable(fit_length(y, SR), SR, 1.0, seconds=0.3)


# ---------------------------------------------------------------- load_clip


def test_load_clip_crops_to_duration():
    full = load_audio(str(DRUMS), SR)
    clip = load_clip(str(DRUMS), sample_rate=SR, duration=2.0)
    assert clip.shape == (2 * SR,) and clip.dtype == np.float32
    np.testing.assert_array_equal(clip, full[:2 * SR])
    short = load_clip(str(DRUMS), sample_rate=16000, duration=2.5)
    assert short.shape == (40000,)


def test_load_clip_applies_offset_like_librosa():
    import librosa

    full = load_audio(str(DRUMS), SR)
    clip = load_clip(str(DRUMS), sample_rate=SR, duration=2.0, offset=1.5)
    start = int(1.5 * SR)
    np.testing.assert_array_equal(clip, full[start:start + 2 * SR])
    expected = librosa.load(str(DRUMS), sr=SR, mono=True, offset=1.5, duration=2.0)[0]
    np.testing.assert_allclose(clip, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("decoder", DECODERS)
def test_load_clip_zero_pads_short_tracks_at_the_end(tmp_path, decoder):
    y = tone(1.0)
    path = write(tmp_path / "one_second.wav", y, subtype="PCM_16")
    clip = load_clip(str(path), sample_rate=SR, duration=3.0, min_duration=1.0, decoder=decoder)
    assert clip.shape == (3 * SR,)
    np.testing.assert_allclose(clip[:SR], y, atol=4e-5, rtol=0)
    assert not clip[SR:].any()


def test_fit_length():
    y = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(fit_length(y, 3), [0, 1, 2])
    np.testing.assert_array_equal(fit_length(y, 7), [0, 1, 2, 3, 4, 0, 0])
    np.testing.assert_array_equal(fit_length(y, 5), y)


@pytest.mark.parametrize("decoder", DECODERS)
def test_too_short(tmp_path, decoder):
    path = str(write(tmp_path / "half.wav", tone(0.5)))
    with pytest.raises(AudioError, match="too short"):
        load_clip(path, duration=30.0, min_duration=1.0, decoder=decoder)
    with pytest.raises(AudioError, match="too short"):  # offset past the end
        load_clip(path, duration=30.0, offset=2.0, decoder=decoder)
    with pytest.raises(AudioError, match="too short"):  # offset leaves too little
        load_clip(str(write(tmp_path / "two.wav", tone(2.0))), offset=1.5, min_duration=1.0,
                  decoder=decoder)
    assert load_clip(path, duration=1.0, min_duration=0.5, decoder=decoder).shape == (SR,)


@pytest.mark.parametrize("decoder", DECODERS)
def test_silent(tmp_path, decoder):
    zeros = str(write(tmp_path / "zeros.wav", np.zeros(2 * SR, np.float32)))
    with pytest.raises(AudioError, match="silent"):
        load_clip(zeros, duration=2.0, decoder=decoder)
    quiet = str(write(tmp_path / "quiet.wav", tone(2.0, amp=SILENCE_PEAK / 10), subtype="FLOAT"))
    with pytest.raises(AudioError, match="silent"):
        load_clip(quiet, duration=2.0, decoder=decoder)
    late = np.concatenate([np.zeros(3 * SR, np.float32), tone(1.0)])  # sound only after the clip
    late_path = str(write(tmp_path / "late.wav", late))
    with pytest.raises(AudioError, match="silent"):
        load_clip(late_path, duration=2.0, decoder=decoder)
    assert load_clip(late_path, duration=2.0, offset=2.5, decoder=decoder).any()


# ---------------------------------------------------------------- every format


FORMATS = [("WAV", "wav", False), ("FLAC", "flac", False), ("OGG", "ogg", True),
           ("AU", "au", False), ("MP3", "mp3", True)]


@pytest.mark.parametrize("fmt, ext, lossy", FORMATS, ids=[f[0] for f in FORMATS])
def test_every_format_decodes(tmp_path, fmt, ext, lossy):
    y = tone(1.0)
    path = str(write(tmp_path / f"tone.{ext}", y, format=fmt))
    clip = load_clip(path, sample_rate=SR, duration=1.0, min_duration=0.5)
    assert clip.shape == (SR,) and clip.dtype == np.float32
    if not lossy:
        np.testing.assert_allclose(clip, y, atol=4e-5, rtol=0)
        return
    body = slice(SR // 8, SR - SR // 8)  # codecs smear the edges
    rms, expected_rms = np.sqrt(np.mean(clip[body] ** 2)), np.sqrt(np.mean(y[body] ** 2))
    assert rms == pytest.approx(expected_rms, rel=0.1)
    assert dominant_hz(clip, SR) == pytest.approx(440, abs=2)
    assert best_lagged_correlation(clip, y) > 0.9


@pytest.mark.parametrize("fmt, ext, lossy", [f for f in FORMATS if f[0] != "AU"],
                         ids=[f[0] for f in FORMATS if f[0] != "AU"])
def test_tfio_decodes_its_formats_like_soundfile(tmp_path, fmt, ext, lossy):
    y = tone(1.0)
    path = str(write(tmp_path / f"tone.{ext}", y, format=fmt))
    expected = load_audio(path, SR, "soundfile")
    got = load_audio(path, SR, "tfio")
    if not lossy:
        np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
    else:  # different Vorbis / MP3 decoders: same sound, not the same bits
        assert abs(len(got) - len(expected)) < 2000
        assert best_lagged_correlation(got, expected) > 0.99


def test_tfio_does_not_read_au(tmp_path):
    path = str(write(tmp_path / "tone.au", tone(0.5), format="AU"))
    with pytest.raises(AudioError, match="cannot decode"):
        decode(path, "tfio")


# ---------------------------------------------------------------- bad files


@pytest.fixture
def bad_files(tmp_path):
    files = {}
    files["missing"] = tmp_path / "missing.mp3"
    files["empty"] = tmp_path / "empty.mp3"
    files["empty"].write_bytes(b"")
    for ext in ("mp3", "wav", "ogg"):
        files[f"text.{ext}"] = tmp_path / f"text.{ext}"
        files[f"text.{ext}"].write_text("this is not audio, just a text file renamed\n" * 20)
    files["garbage.flac"] = tmp_path / "garbage.flac"
    files["garbage.flac"].write_bytes(np.random.default_rng(0).bytes(4096))
    files["zeros.mp3"] = tmp_path / "zeros.mp3"  # like FMA's files without audio
    files["zeros.mp3"].write_bytes(b"\x00" * 64)
    files["truncated.ogg"] = tmp_path / "truncated.ogg"
    files["truncated.ogg"].write_bytes(DRUMS.read_bytes()[:200])
    mp3 = fixtures.write_fma_audio(tmp_path / "fma", [3], seconds=1.0)[0]
    files["truncated.mp3"] = tmp_path / "truncated.mp3"
    files["truncated.mp3"].write_bytes(mp3.read_bytes()[:200])
    wav = write(tmp_path / "full.wav", tone(2.0), subtype="PCM_16")
    files["truncated.wav"] = tmp_path / "truncated.wav"
    files["truncated.wav"].write_bytes(wav.read_bytes()[:200])
    files["directory"] = tmp_path / "folder.wav"
    files["directory"].mkdir()
    return {name: str(path) for name, path in files.items()}


EXPECTED_REASON = {
    "missing": "not found",
    "empty": "empty",
    "text.mp3": "cannot decode",
    "text.wav": "cannot decode",
    "text.ogg": "cannot decode",
    "garbage.flac": "cannot decode",
    "zeros.mp3": "cannot decode",
    "truncated.ogg": "cannot decode",
    "truncated.mp3": "cannot decode",
    "directory": "directory",
}


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("name", sorted(EXPECTED_REASON))
def test_bad_files_raise_audio_error_with_a_reason(bad_files, name, decoder):
    with pytest.raises(AudioError) as info:
        decode(bad_files[name], decoder)
    message = str(info.value)
    assert message and "\n" not in message and len(message) < 300
    if decoder == "soundfile" or name in ("missing", "empty", "directory"):
        assert EXPECTED_REASON[name] in message, message
    with pytest.raises(AudioError):  # and the same through the clip loader
        load_clip(bad_files[name], decoder=decoder)


@pytest.mark.parametrize("decoder", DECODERS)
def test_truncated_wav_is_unusable(bad_files, decoder):
    # libsndfile reads the 78 frames that survived; tfio refuses the short read. Either way the
    # track is no usable clip.
    with pytest.raises(AudioError):
        load_clip(bad_files["truncated.wav"], min_duration=1.0, decoder=decoder)


@pytest.mark.parametrize("decoder", DECODERS)
def test_non_finite_samples(tmp_path, decoder):
    y = tone(0.5)
    y[100] = np.nan
    path = str(write(tmp_path / "nan.wav", y, subtype="FLOAT"))
    with pytest.raises(AudioError, match="NaN"):
        decode(path, decoder)


def test_unknown_decoder(tmp_path):
    path = str(write(tmp_path / "x.wav", tone(0.5)))
    with pytest.raises(ValueError, match="unknown decoder"):
        decode(path, "ffmpeg")

"""musicnn's weights like Keras' ImageNet ones: the wheel fetched once with pip, sha256-checked, converted once.

Every test runs on a cache of its own ($MGC_CACHE_DIR in a temporary folder) seeded with a link to the
machine's cached wheel, so nothing is downloaded (the machine's wheel itself: downloaded once if missing,
else the tests skip).
"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from mgc.errors import UserError
from mgc.models import musicnn, musicnn_weights
from mgc.models.musicnn import OUTPUT_NAMES, build_musicnn


@pytest.fixture(scope="session")
def machine_wheel(musicnn_wheel) -> str:
    """The machine's wheel, found before any test changes the environment."""
    return str(musicnn_wheel)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache of this test's own; no $MGC_MUSICNN_WHEEL."""
    monkeypatch.setenv(musicnn_weights.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(musicnn_weights.WHEEL_ENV, raising=False)
    return tmp_path / "cache"


@pytest.fixture
def seeded(cache, machine_wheel):
    cache.mkdir()
    os.symlink(machine_wheel, cache / musicnn_weights.WHEEL_NAME)
    return cache


def _no_pip(*args, **kwargs):
    raise AssertionError(f"pip must not run: {args}")


def test_cache_dir_and_names(cache, monkeypatch):
    assert musicnn_weights.cache_dir() == cache
    name = f"mtt-{musicnn_weights.WHEEL_SHA256[:12]}.weights.h5"
    assert musicnn_weights.cached_weights("mtt") == cache / "musicnn" / name
    monkeypatch.delenv(musicnn_weights.CACHE_ENV)
    assert musicnn_weights.cache_dir() == musicnn_weights.CACHE_DIR.expanduser()


def test_no_download_when_cached(seeded, monkeypatch):
    monkeypatch.setattr(subprocess, "run", _no_pip)
    path = musicnn.weights_file("msd")
    assert path == musicnn_weights.cached_weights("msd") and path.is_file()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_offline_is_one_clear_error(cache, monkeypatch):
    def offline(command, **kwargs):
        assert command[1:5] == ["-m", "pip", "download", "--no-deps"] and "musicnn==0.1.0" in command
        return subprocess.CompletedProcess(command, 1, "", "ERROR: Could not find a version that satisfies the "
                                           "requirement musicnn==0.1.0\nERROR: No matching distribution found\n")

    monkeypatch.setattr(subprocess, "run", offline)
    with pytest.raises(UserError) as info:
        build_musicnn("msd")
    message = str(info.value)
    assert "\n" not in message and "No matching distribution found" in message
    assert "pip download --no-deps musicnn==0.1.0" in message and str(cache / musicnn_weights.WHEEL_NAME) in message
    assert not (cache / musicnn_weights.WHEEL_NAME).exists() and not list(cache.iterdir())  # staging removed

    def hanging(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs.get("timeout"))

    monkeypatch.setattr(subprocess, "run", hanging)
    with pytest.raises(UserError, match="took more than"):
        musicnn_weights.fetch_wheel(timeout=1)


def test_download_is_checked_and_moved_into_place(cache, machine_wheel, monkeypatch):
    def pip(command, **kwargs):  # a fake pip writing the real wheel into the folder it was given
        folder = command[command.index("-d") + 1]
        os.symlink(machine_wheel, os.path.join(folder, musicnn_weights.WHEEL_NAME))
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", pip)
    assert musicnn_weights.fetch_wheel() == cache / musicnn_weights.WHEEL_NAME
    assert [p.name for p in cache.iterdir()] == [musicnn_weights.WHEEL_NAME]
    assert musicnn_weights.find_wheel() == cache / musicnn_weights.WHEEL_NAME


def test_wrong_wheel_is_refused(cache, monkeypatch):
    def pip(command, **kwargs):  # a download that is not the wheel musicnn 0.1.0 published
        folder = command[command.index("-d") + 1]
        with open(os.path.join(folder, musicnn_weights.WHEEL_NAME), "wb") as f:
            f.write(b"PK\x05\x06" + bytes(18))
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", pip)
    with pytest.raises(UserError, match="sha256 .*expected " + musicnn_weights.WHEEL_SHA256):
        build_musicnn("mtt")
    assert not list(cache.iterdir())  # neither the bad wheel nor a conversion is kept
    cache.mkdir(exist_ok=True)
    (cache / musicnn_weights.WHEEL_NAME).write_bytes(b"not a wheel")  # a bad wheel already in the cache
    monkeypatch.setattr(subprocess, "run", _no_pip)
    with pytest.raises(UserError, match="is not musicnn-0.1.0"):
        build_musicnn("msd")


def test_converted_once_and_equal_to_the_checkpoint(seeded, machine_wheel, monkeypatch):
    monkeypatch.setattr(subprocess, "run", _no_pip)
    first = build_musicnn("msd", outputs=OUTPUT_NAMES)
    path = musicnn_weights.cached_weights("msd")
    stamp = path.stat().st_mtime_ns
    tensors = musicnn_weights.read_checkpoint(machine_wheel, "msd")
    for layer in first.layers:
        for variable in layer.weights:
            key = f"{musicnn_weights.LAYERS[layer.name]}/{variable.name}"
            np.testing.assert_array_equal(np.asarray(variable), tensors.pop(key), err_msg=key)
    assert not tensors  # every trained tensor is in the model

    def no_checkpoint(*args, **kwargs):
        raise AssertionError("the checkpoint must not be read again")

    monkeypatch.setattr(musicnn_weights, "read_checkpoint", no_checkpoint)
    os.unlink(seeded / musicnn_weights.WHEEL_NAME)  # nor is the wheel needed any more
    second = build_musicnn("msd", outputs=OUTPUT_NAMES)
    assert path.stat().st_mtime_ns == stamp
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_damaged_cache_file_is_named(seeded, monkeypatch):
    path = musicnn_weights.cached_weights("mtt")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"truncated")
    with pytest.raises(UserError, match=f"cannot read the cached musicnn weights {path}.*delete it"):
        build_musicnn("mtt")


def test_local_paths_still_work(seeded, machine_wheel, tmp_path, monkeypatch):
    monkeypatch.setattr(subprocess, "run", _no_pip)
    from_wheel = build_musicnn(machine_wheel)  # a wheel: its MSD model
    from_cache = build_musicnn(str(musicnn.weights_file("msd")))
    x = {"patches": np.random.default_rng(0).normal(1, 1, (2, 187, 96)).astype(np.float32)}
    np.testing.assert_array_equal(from_wheel.predict(x, verbose=0), from_cache.predict(x, verbose=0))
    with pytest.raises(UserError, match="not found"):
        build_musicnn(str(tmp_path / "missing.weights.h5"))

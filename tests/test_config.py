"""The typed TOML config: shipped files load, the FMA fusion study's grids are exact, mistakes are UserErrors."""

from __future__ import annotations

import pytest

from conftest import ROOT
from mgc.config import (
    DATASET_KINDS,
    AudioConfig,
    Config,
    load_config,
    parse_override,
    settings_hash,
)
from mgc.errors import UserError

PIPELINES = sorted((ROOT / "pipelines").glob("*.toml"))


def write(tmp_path, text: str, name: str = "c.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------- shipped configs


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_every_shipped_config_survives_the_trip_to_a_child_process(path):
    """Under a backend that cannot write SavedModels the export stage runs in a TensorFlow
    process that gets the config as JSON ``section.key`` overrides (mgc.export.run): those
    rebuild each shipped config exactly, nested [models.*] / [grid.*] tables and lists included.
    (Which configs ship, and by name: tests/test_packaging.py::test_configs_by_name.)"""
    import json

    from mgc.export.run import _dotted

    config = load_config(path)
    overrides = json.loads(json.dumps(_dotted(config.to_dict())))
    rebuilt = load_config(None, overrides)
    assert rebuilt.to_dict() == {**config.to_dict(), "source": ""}


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    config = load_config(path)
    assert isinstance(config, Config)
    assert config.source == str(path)
    assert config.dataset.kind in DATASET_KINDS
    fractions = config.split.baseline_train + config.split.fusion_train + config.split.test
    assert fractions == pytest.approx(1.0)
    assert config.run.name == path.stem


def test_fma_top5_holds_seed_000_settings():
    config = load_config(ROOT / "pipelines" / "fma_top5.toml")
    assert config.grid["cnn"] == {"dropout": [0.3, 0.4, 0.5], "learning_rate": [1e-4, 5e-4, 1e-3]}
    assert config.grid["mlp"] == {
        "width": [64, 128, 256],
        "depth": [2, 3, 4],
        "learning_rate": [1e-4, 5e-4, 1e-3],
    }
    assert config.grid["logit_fusion"] == {"width": [16, 32, 64], "depth": [1, 2, 3]}
    assert config.grid["feature_fusion"] == {"width": [128, 256, 512], "depth": [1, 2, 3]}
    assert set(config.grid) == {"cnn", "mlp", "logit_fusion", "feature_fusion"}
    assert (config.split.baseline_train, config.split.fusion_train, config.split.test) == (0.4, 0.4, 0.2)
    assert config.split.group_by_artist is False
    assert config.search.folds == 3
    assert config.input.batch_size == 64
    assert config.dataset.kind == "fma"
    assert config.dataset.top_k == 5
    assert config.audio.sample_rate == 22050
    assert config.audio.duration == 30.0


def test_defaults_without_a_file():
    config = load_config()
    assert config.source == ""
    assert config.audio == AudioConfig()
    assert (config.split.baseline_train, config.split.fusion_train, config.split.test) == (0.4, 0.4, 0.2)
    assert config.grid == {} and config.models == {}


# ---------------------------------------------------------------- mistakes


@pytest.mark.parametrize(
    "text, words",
    [
        ("[bogus]\nx = 1\n", ["bogus"]),
        ("[audio]\nsample_rte = 22050\n", ["sample_rte", "[audio]"]),
        ('[audio]\nsample_rate = "x"\n', ["audio.sample_rate", "int"]),
        ("[audio]\nsample_rate = 22050.0\n", ["audio.sample_rate", "int"]),
        ("[run]\nseed = true\n", ["run.seed", "int"]),
        ("[audio]\nduration = \"30\"\n", ["audio.duration", "float"]),
        ("[split]\ngroup_by_artist = 1\n", ["split.group_by_artist", "bool"]),
        ("[dataset]\ngenres = \"rock\"\n", ["dataset.genres", "list"]),
        ("audio = 3\n", ["[audio]", "table"]),
        ('[dataset]\nkind = "spotify"\n', ["spotify", "dataset kind"]),
        ("[split]\nbaseline_train = 0.5\nfusion_train = 0.4\ntest = 0.2\n", ["[split]", "sum to 1"]),
        ('[audio]\ndecoder = "ffmpeg"\n', ["[audio]", "decoder"]),
        ("[search]\nfolds = 1\n", ["[search]", "folds"]),
    ],
)
def test_mistakes_are_user_errors_naming_the_culprit(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(UserError) as info:
        load_config(path)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_missing_file_is_a_user_error(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(UserError, match="not found") as info:
        load_config(path)
    assert "nope.toml" in str(info.value)


def test_invalid_toml_is_a_user_error(tmp_path):
    path = write(tmp_path, "[audio\nsample_rate = 1\n", "broken.toml")
    with pytest.raises(UserError, match="invalid TOML") as info:
        load_config(path)
    assert "broken.toml" in str(info.value)


def test_directory_is_not_a_config(tmp_path):
    with pytest.raises(UserError):
        load_config(tmp_path)


# ---------------------------------------------------------------- overrides


def test_overrides_apply_and_coerce(tmp_path):
    path = ROOT / "pipelines" / "smoke.toml"
    config = load_config(path, {"run.workdir": "/x", "audio.duration": 5, "dataset.genres": ["a", "b"]})
    assert config.run.workdir == "/x"
    assert str(config.workdir) == "/x"
    assert config.audio.duration == 5.0 and isinstance(config.audio.duration, float)
    assert config.dataset.genres == ["a", "b"]
    assert config.audio.sample_rate == 22050  # untouched keys keep the file's values
    assert config.run.name == "smoke"


def test_overrides_of_a_section_absent_from_the_file(tmp_path):
    path = write(tmp_path, '[run]\nname = "x"\n')
    config = load_config(path, {"spectrogram.n_mels": 64, "split.group_by_artist": True})
    assert config.spectrogram.n_mels == 64
    assert config.split.group_by_artist is True


@pytest.mark.parametrize(
    "overrides, word",
    [
        ({"audio.bogus": 1}, "bogus"),
        ({"audio.sample_rate": "fast"}, "audio.sample_rate"),
        ({"nosection": 1}, "section.key"),
        ({"dataset.kind": "nope"}, "nope"),
    ],
)
def test_bad_overrides_are_user_errors(overrides, word):
    with pytest.raises(UserError, match=word):
        load_config(None, overrides)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("audio.duration=5.5", ("audio.duration", 5.5)),
        ("audio.sample_rate=16000", ("audio.sample_rate", 16000)),
        ("run.name=hello", ("run.name", "hello")),
        ("run.workdir=/tmp/mgc run", ("run.workdir", "/tmp/mgc run")),
        ('run.name="quoted"', ("run.name", "quoted")),
        ("split.group_by_artist=true", ("split.group_by_artist", True)),
        ("dataset.genres=['a','b']", ("dataset.genres", ["a", "b"])),
        ('dataset.genres=["rock", "pop"]', ("dataset.genres", ["rock", "pop"])),
        (" audio.offset =1", ("audio.offset", 1)),
    ],
)
def test_parse_override(text, expected):
    key, value = parse_override(text)
    assert (key, value) == expected
    assert type(value) is type(expected[1])


def test_parse_override_needs_an_equals_sign():
    with pytest.raises(UserError, match="section.key=value"):
        parse_override("audio.duration")


def test_parsed_overrides_feed_load_config():
    overrides = dict(parse_override(t) for t in ("audio.duration=5", "run.name=hello"))
    config = load_config(None, overrides)
    assert config.audio.duration == 5.0 and isinstance(config.audio.duration, float)
    assert config.run.name == "hello"


# ---------------------------------------------------------------- settings_hash


def test_settings_hash_is_stable_and_order_independent():
    a = {"sample_rate": 22050, "n_mels": 128, "nested": {"x": 1, "y": [1, 2]}}
    b = {"nested": {"y": [1, 2], "x": 1}, "n_mels": 128, "sample_rate": 22050}
    assert settings_hash(a) == settings_hash(b)
    assert len(settings_hash(a)) == 12
    assert len(settings_hash(a, length=20)) == 20
    assert settings_hash(a, length=20).startswith(settings_hash(a))
    # A cache key must not change between versions: pinned value (sha256 of sorted compact JSON).
    assert settings_hash({"a": 1, "b": [1.5, "x"]}) == "253252306831"
    assert settings_hash({**a, "n_mels": 64}) != settings_hash(a)
    assert settings_hash({"y": [2, 1]}) != settings_hash({"y": [1, 2]})  # list order matters


def test_config_hash_follows_its_settings():
    one = load_config(None).to_dict()
    two = load_config(None, {"audio.duration": 10}).to_dict()
    assert settings_hash(one) == settings_hash(load_config(None).to_dict())
    assert settings_hash(one) != settings_hash(two)


def test_overrides_reach_nested_model_tables():
    from mgc.config import load_config, parse_override

    key, value = parse_override("models.cnn.weights=/tmp/efficientnetb0_notop.h5")
    config = load_config(ROOT / "pipelines/fma_top5.toml", {key: value, "grid.mlp.width": [8]})
    assert config.models["cnn"]["weights"] == "/tmp/efficientnetb0_notop.h5"
    assert config.grid["mlp"]["width"] == [8] and config.grid["mlp"]["depth"] == [2, 3, 4]


# ---------------------------------------------------------------- [distribute]


def test_distribute_defaults_to_one_device():
    d = load_config(None).distribute
    assert (d.strategy, d.devices, d.cpu_devices) == ("none", [], 0)


def test_distribute_section_parses(tmp_path):
    path = write(tmp_path, '[distribute]\nstrategy = "data_parallel"\ndevices = ["gpu:0", "GPU:1"]\n')
    d = load_config(path).distribute
    assert (d.strategy, d.devices, d.cpu_devices) == ("data_parallel", ["gpu:0", "GPU:1"], 0)
    d = load_config(None, dict([parse_override("distribute.strategy=multi_worker"),
                                parse_override("distribute.cpu_devices=2")])).distribute
    assert (d.strategy, d.cpu_devices) == ("multi_worker", 2)


@pytest.mark.parametrize("overrides, message", [
    ({"distribute.strategy": "mirrored"}, "strategy must be one of none, data_parallel, multi_worker"),
    ({"distribute.cpu_devices": -1}, "cpu_devices must be >= 0"),
    ({"distribute.cpu_devices": "2"}, "distribute.cpu_devices must be int"),
    ({"distribute.strategy": "data_parallel", "distribute.devices": ["gpu0"]}, "'gpu0' is not a device"),
    ({"distribute.strategy": "multi_worker", "distribute.devices": ["gpu:0"]},
     'devices applies to strategy = "data_parallel" only'),
    ({"distribute.workers": 2}, "unknown key 'workers' in \\[distribute\\]"),
])
def test_bad_distribute_values_are_user_errors(overrides, message):
    with pytest.raises(UserError, match=message):
        load_config(None, overrides)


def test_a_strategy_under_torch_is_a_user_error(monkeypatch):
    import mgc.config

    monkeypatch.setattr(mgc.config.schema, "keras_backend", lambda: "torch")
    assert load_config(None, {"distribute.cpu_devices": 2}).distribute.cpu_devices == 2  # no strategy: fine
    with pytest.raises(UserError, match="needs the TensorFlow or JAX backend .* KERAS_BACKEND=tensorflow or jax"):
        load_config(None, {"distribute.strategy": "data_parallel"})


def test_keras_backend_is_read_without_importing_keras():
    import os
    import subprocess
    import sys

    code = "import sys; from mgc.config import keras_backend; print(keras_backend(), 'keras' in sys.modules)"
    for backend in ("jax", "torch"):
        env = {**os.environ, "KERAS_BACKEND": backend}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
        assert done.stdout.split() == [backend, "False"], done.stderr


# ---------------------------------------------------------------- numeric ranges


@pytest.mark.parametrize(
    "override, value, words",
    [
        ("input.batch_size", 0, ["[input] batch_size", ">= 1", "got 0"]),
        ("audio.offset", -2, ["[audio] offset", ">= 0"]),
        ("spectrogram.hop_length", 0, ["[spectrogram] hop_length", ">= 1"]),
        ("spectrogram.n_fft", 0, ["[spectrogram] n_fft"]),
        ("spectrogram.n_mels", 0, ["[spectrogram] n_mels"]),
        ("spectrogram.top_db", -1.0, ["[spectrogram] top_db", "> 0"]),
        ("audio.sample_rate", 8000, ["[audio] sample_rate", ">= 11025"]),
        ("audio.min_duration", -1.0, ["[audio] min_duration"]),
        ("audio.duration", float("nan"), ["[audio] duration"]),
        ("extract.workers", -1, ["[extract] workers"]),
        ("input.shuffle_buffer", 0, ["[input] shuffle_buffer"]),
        ("train.epochs", 0, ["[train] epochs"]),
        ("train.validation_fraction", 0.5, ["[train] validation_fraction", "< 0.5"]),
        ("run.seed", -1, ["[run] seed"]),
        ("run.seed", 2**32, ["[run] seed"]),
        ("dataset.clips_per_genre", 0, ["[dataset] clips_per_genre"]),
        ("dataset.top_k", -1, ["[dataset] top_k"]),
        ("distribute.cpu_devices", -1, ["[distribute] cpu_devices"]),
    ],
)
def test_every_numeric_setting_is_range_checked_at_load_time(override, value, words):
    with pytest.raises(UserError) as info:
        load_config(ROOT / "pipelines" / "smoke.toml", {override: value})
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_every_numeric_setting_has_a_range():
    """A new int/float setting must declare its range (config.bounded), or the test above misses it."""
    import dataclasses

    for section in dataclasses.fields(Config):
        if not dataclasses.is_dataclass(default := getattr(Config(), section.name)):
            continue
        for f in dataclasses.fields(default):
            if type(getattr(default, f.name)) in (int, float):
                assert f.metadata.get("range"), f"[{section.name}] {f.name} has no range"


def test_list_items_are_type_checked():
    with pytest.raises(UserError, match=r"dataset.genres\[1\] must be str"):
        load_config(ROOT / "pipelines" / "smoke.toml", {"dataset.genres": ["rock", 3]})


def test_bad_numbers_are_one_error_line_on_the_cli(capsys):
    from mgc.pipelines.cli import main

    assert main(["train", str(ROOT / "pipelines" / "smoke.toml"), "--set", "input.batch_size=0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: [input] batch_size must be >= 1, got 0"]


@pytest.mark.parametrize("override, message", [
    ({"grid.mlp": {"widht": [64]}}, "unknown key 'widht' in [grid.mlp]; known keys: batch_size, depth, dropout,"),
    ({"models.resnet": {"depth": 2}},
     "unknown model 'resnet'; choose from svm, logreg, cnn, small_cnn, mlp, musicnn_probe, musicnn_svm, "
     "musicnn_logreg, joint,"),
    ({"models.mlp.width": "wide"}, "models.mlp.width must be int or list, got 'wide'"),
    ({"models.cnn.image_size": [64, "x"]}, "models.cnn.image_size[1] must be int, got 'x'"),
    ({"models.mlp.dropout": 1.5}, "[models.mlp] dropout must be >= 0 and < 1, got 1.5"),
    ({"grid.logit_fusion.depth": 2}, "[grid.logit_fusion] depth must be a non-empty list of values"),
    ({"grid.logit_fusion.depth": [1, "two"]}, "grid.logit_fusion.depth[1] must be int, got 'two'"),
    ({"grid.mlp.learning_rate": [0.001, 0]}, "[grid.mlp] learning_rate must be > 0, got 0"),
])
def test_model_tables_are_checked_when_the_config_loads(override, message):
    import re

    with pytest.raises(UserError, match=re.escape(message)):
        load_config(ROOT / "pipelines" / "smoke.toml", override)


def test_every_model_default_passes_its_own_checks():
    import dataclasses

    from mgc.config.models import MODEL_PARAMS, training_defaults

    tables = {name: {**training_defaults(name), **dataclasses.asdict(cls())} for name, cls in MODEL_PARAMS.items()}
    assert load_config(None, {f"models.{name}": table for name, table in tables.items()}).models == tables


def test_prepare_refuses_a_bad_grid_before_any_work(tmp_path, capsys):
    """With ``run``, a typo in [grid.mlp] used to be reported after a full extraction."""
    from mgc.pipelines.cli import main

    workdir = tmp_path / "run"
    assert main(["run", str(ROOT / "pipelines" / "smoke.toml"), "--workdir", str(workdir),
                 "--set", "grid.mlp.widht=[64]"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown key 'widht' in [grid.mlp]")
    assert not workdir.exists()

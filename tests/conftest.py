"""Shared test settings: quiet TensorFlow, paths to the real recordings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

# ../shared/data/real-audio from the project root (the layout CI and sessions share).
REAL_AUDIO = Path(os.environ.get("MGC_REAL_AUDIO", ROOT.parent / "shared" / "data" / "real-audio"))
if not REAL_AUDIO.is_dir():  # a worktree elsewhere: fall back to the workplace's copy
    REAL_AUDIO = Path("/work/shared/data/real-audio")

MUSIC = [
    "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "Karissa_Hobbs_-_Lets_Go_Fishin.ogg",
    "admiralbob77_-_Choice_-_Drum-bass.ogg",
    "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
    "442789__lena-orsa__happy-music-pistachio-ice-cream-ragtime.ogg",
    "147793__setuniman__sweet-waltz-0i-22mi.ogg",
]


import pytest  # noqa: E402

# tests/backends/ runs under each Keras backend in a process of its own (tests/test_backends.py).
collect_ignore = [] if os.environ.get("MGC_BACKEND_SUITE") else ["backends"]


@pytest.fixture(scope="session")
def musicnn_wheel() -> Path:
    """The musicnn 0.1.0 wheel (the pretrained weights): $MGC_MUSICNN_WHEEL or the user cache, else
    downloaded into the cache once per machine (mgc.models.musicnn_weights.fetch_wheel); skipped,
    saying why, where it cannot be downloaded."""
    from mgc.errors import UserError
    from mgc.models import musicnn_weights

    try:
        wheel = musicnn_weights.find_wheel() or musicnn_weights.fetch_wheel()
    except UserError as exc:
        print(exc, file=sys.stderr)
        pytest.skip(f"no musicnn wheel: {exc}")
    return musicnn_weights.check_wheel(wheel)


# The smoke job without EfficientNet-B0 (its tracing is most of a smoke run's time): every stage and
# every kind of model, the frozen fusions on the small CNN. For the tests that rerun the whole job
# (determinism, repeats, the JAX and PyTorch pipelines); the session's ``smoke_run`` keeps the whole job
# (smoke.toml's models: LIGHT's and EfficientNet-B0, its fusions on the small CNN too).
LIGHT_MODELS = ["small_cnn", "mlp", "joint", "logit_fusion", "feature_fusion", "attention_fusion"]
LIGHT = ("--set", "train.models=" + json.dumps(LIGHT_MODELS), "--set", 'train.fusion_cnn="small_cnn"')


def run_smoke(workdir: Path, *args: str, backend: str = "tensorflow", cwd: Path = ROOT) -> str:
    """``run pipelines/smoke.toml --workdir WORKDIR --quiet ARGS`` in a process of its own, like a
    user's run; returns its output, failing the test with its tail if it fails."""
    command = [sys.executable, "-m", "mgc.pipelines", "run", str(ROOT / "pipelines/smoke.toml"),
               "--workdir", str(workdir), "--quiet", *args]
    done = subprocess.run(command, cwd=cwd, env={**os.environ, "KERAS_BACKEND": backend},
                          capture_output=True, text=True)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    return done.stdout + done.stderr


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """A workdir where ``run pipelines/smoke.toml`` has finished (every stage, TensorFlow backend);
    read-only."""
    workdir = tmp_path_factory.mktemp("smoke")
    run_smoke(workdir)
    return workdir


@pytest.fixture(scope="session")
def light_run(tmp_path_factory):
    """A workdir where the smoke job with the ``LIGHT`` models has finished (TensorFlow); read-only."""
    workdir = tmp_path_factory.mktemp("light")
    run_smoke(workdir, *LIGHT)
    return workdir

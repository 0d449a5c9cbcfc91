"""What users install: the wheel and sdist hold every module and the bundled configs, the
``mgc`` command equals ``python -m mgc.pipelines``, and an installed copy runs from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import mgc
from conftest import ROOT


def _modules() -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "mgc").rglob("*.py")}


def _configs() -> set[str]:
    return {p.name for p in (ROOT / "pipelines").glob("*.toml")}


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """A wheel and an sdist built from this checkout (no network: the venv's setuptools)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    (wheel,), (sdist,) = out.glob("*.whl"), out.glob("*.tar.gz")
    return wheel, sdist


@pytest.mark.slow
def test_the_wheel_holds_every_module_the_configs_and_the_command(dist):
    wheel, _ = dist
    assert wheel.name == f"mgc-{mgc.__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert _modules() - names == set(), "modules missing from the wheel"
    assert {f"mgc/configs/{name}" for name in _configs()} <= names
    assert "mgc/datasets/gtzan_fault_filtered.csv" in names  # data the GTZAN protocol needs
    entry_points = zipfile.ZipFile(wheel).read(f"mgc-{mgc.__version__}.dist-info/entry_points.txt").decode()
    assert "mgc = mgc.pipelines.cli:main" in entry_points


@pytest.mark.slow
def test_the_sdist_holds_every_module_and_config(dist):
    _, sdist = dist
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert _modules() - names == set()
    assert {f"pipelines/{name}" for name in _configs()} <= names
    assert {"setup.py", "setup.cfg", "README.md", "pyproject.toml"} <= names


@pytest.mark.slow
def test_an_installed_wheel_runs_from_any_folder(dist, tmp_path):
    """The wheel unpacked alone on the path (its dependencies from this venv): every module
    imports, and the bundled configs work by name from a folder outside the checkout."""
    wheel, _ = dist
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "TF_CPP_MIN_LOG_LEVEL": "3"}

    def run(*args):
        return subprocess.run([sys.executable, *args], cwd=elsewhere, env=env, capture_output=True, text=True)

    code = ("import importlib, pkgutil, mgc; assert mgc.__file__.startswith(%r), mgc.__file__; "
            "[importlib.import_module(m.name) for m in pkgutil.walk_packages(mgc.__path__, 'mgc.') "
            "if not m.name.endswith('__main__')]" % str(site))
    done = run("-c", code)
    assert done.returncode == 0, done.stderr[-3000:]
    done = run("-m", "mgc.pipelines", "prepare", "smoke", "--workdir", "w", "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (elsewhere / "w" / "manifest.csv").is_file()
    assert "config file not found: pipelines/smoke.toml" in run("-m", "mgc.pipelines", "prepare",
                                                                "pipelines/smoke.toml").stderr


def test_mgc_command_is_python_m_mgc_pipelines():
    script = Path(sys.executable).with_name("mgc")
    assert script.is_file(), "pip install -e . installs the mgc console script"
    a = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    b = subprocess.run([sys.executable, "-m", "mgc.pipelines", "--help"], capture_output=True, text=True)
    assert a.returncode == b.returncode == 0
    assert a.stdout.startswith("usage: mgc ") and b.stdout.startswith("usage: python -m mgc.pipelines ")
    assert a.stdout.replace("mgc", "X") == b.stdout.replace("python -m mgc.pipelines", "mgc").replace("mgc", "X")
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True).stdout
    assert version.strip() == f"mgc {mgc.__version__}"


def test_configs_by_name(tmp_path, monkeypatch):
    from mgc.config import bundled_configs, load_config
    from mgc.errors import UserError

    assert set(bundled_configs()) == {Path(n).stem for n in _configs()}
    monkeypatch.chdir(tmp_path)
    assert load_config("demo").run.name == "demo"
    assert load_config("smoke.toml").run.name == "smoke"
    (tmp_path / "demo.toml").write_text('[run]\nname = "mine"\n')  # a file given wins over the bundled name
    assert load_config("demo.toml").run.name == "mine"
    with pytest.raises(UserError, match="bundled configs, usable by name: demo, fma_medium, fma_top5, gtzan, smoke"):
        load_config("nope")


def test_the_version_is_defined_once():
    assert "version = attr: mgc.__version__" in (ROOT / "setup.cfg").read_text()
    assert "0.1.0" not in (ROOT / "setup.cfg").read_text()

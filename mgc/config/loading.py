"""Reading a config: a TOML file or a bundled config by name, with ``--set`` overrides applied
before the whole config is built and validated."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from mgc.config.schema import Config, _build
from mgc.errors import UserError


def bundled_configs() -> dict[str, Path]:
    """The experiment configs that come with mgc, by name (``demo``, ``smoke``, ``fma_top5``, ``fma_medium``,
    ``gtzan``): ``mgc/configs/`` in an installed package (setup.py ships the repository's
    ``pipelines/`` there), the repository's ``pipelines/`` in a checkout."""
    package = Path(__file__).resolve().parent.parent  # mgc/
    for folder, marker in ((package / "configs", None), (package.parent / "pipelines", package.parent / "setup.cfg")):
        if folder.is_dir() and (marker is None or marker.is_file()):
            return {p.stem: p for p in sorted(folder.glob("*.toml"))}
    return {}


def resolve_config(name_or_path: str | Path) -> Path:
    """A config file: the path as given when it exists, else a bundled config by name
    (``demo`` or ``demo.toml``), so ``mgc run demo`` works from any folder."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = bundled_configs()
    if path.parent == Path(".") and path.stem in bundled and path.suffix in ("", ".toml"):
        return bundled[path.stem]
    names = ", ".join(bundled) or "none found"
    raise UserError(f"config file not found: {path} (bundled configs, usable by name: {names})")


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Read a TOML config (a path or a bundled config's name; the defaults when ``path`` is None)
    and apply dotted overrides.

    ``overrides`` maps ``"section.key"`` to a value, e.g. ``{"run.workdir": "/tmp/x"}``.
    """
    data: dict[str, Any] = {}
    if path is not None:
        path = resolve_config(path)
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{path}: invalid TOML: {exc}") from None
    for dotted, value in (overrides or {}).items():
        *tables, key = dotted.split(".")
        if not tables or not all(tables) or not key:
            raise UserError(f"override {dotted!r} must look like section.key=value (or models.cnn.key=value)")
        target = data
        for name in tables:
            target = target.setdefault(name, {})
            if not isinstance(target, dict):
                raise UserError(f"override {dotted!r}: {name} is not a table")
        target[key] = value
    config = _build(Config, data, "config")
    config.source = str(path) if path is not None else ""
    return config.validate()


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``section.key=value`` where value is a TOML literal (bare words are strings)."""
    key, sep, raw = text.partition("=")
    raw = raw.strip()
    if not sep:
        raise UserError(f"--set expects section.key=value, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value

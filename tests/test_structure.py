"""The package's shape: no import cycles, packages import only downward along the data flow,
TensorFlow only where it belongs, no module over ~400 lines, and each shared fact defined once.

Imports are read with ``ast`` from the source (module-level and function-level alike, so a lazy
import cannot hide a cycle); ``python -m tests.test_structure`` prints the graph's layers.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mgc"

# The data flow, bottom first: a module may import its own layer and the layers before it.
LAYERS = (
    ("mgc.errors", "mgc.io", "mgc.interrupt", "mgc"),
    ("mgc.config",),
    ("mgc.contract", "mgc.parallel"),
    ("mgc.datasets", "mgc.splits"),
    ("mgc.audio",),
    ("mgc.features", "mgc.parallel_preload"),  # the worker preload warms the feature code
    ("mgc.cache",),
    ("mgc.input",),
    ("mgc.models",),
    ("mgc.training",),
    ("mgc.reports",),
    ("mgc.export",),
    ("mgc.serving",),
    ("mgc.predict",),
    ("mgc.similar",),
    ("mgc.pipelines",),
)
# Where TensorFlow (and JAX or PyTorch internals) may be imported: the input pipeline, export, the
# cache's TFRecord code, one module per engine, and the optional tensorflow-io decoder (one function).
BACKEND_IMPORTS = re.compile(r"^\s*(import|from)\s+(tensorflow|tensorflow_io|jax|torch)\b")
ALLOWED_BACKEND = ("mgc/input/", "mgc/export/", "mgc/cache/records.py", "mgc/training/engines/",
                   "mgc/audio/decode.py")
MAX_LINES = 400


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """The mgc modules ``path`` imports anywhere in its code (``from a import b`` counts as
    ``a.b`` when that is a module, else as ``a``)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name.startswith("mgc"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            if not base.startswith("mgc"):
                continue
            for alias in node.names:
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in out if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, name, known) for name, path in known.items()}


def layer(module: str) -> int:
    best = None
    for i, names in enumerate(LAYERS):
        for prefix in names:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (i, len(prefix))
    assert best is not None, f"{module} is in no layer of tests/test_structure.py"
    return best[0]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def package_edges(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """Module edges with each package's ``__init__`` re-exports left out: importing
    ``mgc.cache.store`` from inside ``mgc.cache`` is not a cycle through ``mgc/cache/__init__``."""
    known = set(edges)
    return {m: {d for d in deps if not (d in known and _is_package(d) and m.startswith(d + "."))}
            for m, deps in edges.items()}


def _is_package(name: str) -> bool:
    return (PACKAGE.parent / Path(*name.split(".")) / "__init__.py").is_file()


def test_no_import_cycles():
    assert cycles(package_edges(graph())) == []


def test_packages_import_only_downward():
    upward = [f"{m} -> {d}" for m, deps in graph().items() for d in sorted(deps) if layer(d) > layer(m)]
    assert upward == []


def test_tensorflow_only_where_it_belongs():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if BACKEND_IMPORTS.match(line) and not rel.startswith(ALLOWED_BACKEND):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == []


def test_the_tfio_decoder_is_the_one_backend_import_of_audio():
    text = (PACKAGE / "audio" / "decode.py").read_text()
    tree = ast.parse(text)
    inside = [node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
              and any(isinstance(n, (ast.Import, ast.ImportFrom)) and "tensorflow" in ast.unparse(n)
                      for n in ast.walk(node))]
    assert inside == ["_read_tfio"]


def test_no_module_over_the_size_limit():
    long = {path.relative_to(ROOT).as_posix(): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


@pytest.mark.parametrize("pattern, owner", [
    (r"round\([^)]*duration\s*\*\s*[^)]*sample_rate", "mgc/contract.py"),  # clip samples
    (r"SpectrogramConfig\(\*\*", "mgc/contract.py"),  # a spectrogram rebuilt from a dict
    (r'"/"\.join\(', "mgc/contract.py"),  # feature-column flattening
    (r'^\s*(INPUTS|BASELINES|BRANCHES|FROZEN_FUSIONS|SINGLE\w*|SIGNATURES|OUTPUTS|ASSETS_JSON)\s*[:=]',
     "mgc/contract.py"),
    (r"^\s*\w*VIEWS\s*[:=]\s*\(\s*\"", None),  # view names spelled out as a tuple: contract.py names them
    (r"\(\s*2048\s*,\s*512\s*,\s*128\s*\)", None),  # FMA's frame settings: named constants in features/fma.py
])
def test_each_fact_is_defined_once(pattern, owner):
    where = sorted({path.relative_to(ROOT).as_posix() for path in PACKAGE.rglob("*.py")
                    if re.search(pattern, path.read_text(), re.MULTILINE)})
    assert where == ([owner] if owner else [])


def test_model_groups_cover_every_configurable_model():
    from mgc.config.models import MODEL_PARAMS, MODELS, keras_trained, pretrained
    from mgc.contract import BASELINES, BRANCHES, FROZEN_FUSIONS, INPUTS, JOINT, PRETRAINED_MODEL, SINGLE_MODALITY

    assert set(INPUTS) == set(MODELS) == set(BASELINES) | set(BRANCHES) | set(FROZEN_FUSIONS)
    assert set(SINGLE_MODALITY) | {JOINT} == set(BRANCHES) | set(BASELINES)
    assert not set(BASELINES) & (set(BRANCHES) | set(FROZEN_FUSIONS))  # scikit-learn: never a Keras branch
    # the config's own marks: scikit-learn models and the pretrained view's model are not Keras-trained
    assert {name for name in MODEL_PARAMS if not keras_trained(name)} == {*BASELINES, PRETRAINED_MODEL}
    assert [name for name in MODEL_PARAMS if pretrained(name)] == [PRETRAINED_MODEL]
    assert set(MODEL_PARAMS) == {*MODELS, PRETRAINED_MODEL}


if __name__ == "__main__":
    edges = graph()
    for i, names in enumerate(LAYERS):
        members = sorted(m for m in edges if layer(m) == i)
        print(f"{i:2d} {', '.join(names)}: {len(members)} modules")
    print("cycles:", cycles(package_edges(edges)) or "none")

"""Load ``.keras`` files saved under other backends into this process's backend and compare.

``python tests/backends/check_loads.py OUT_DIR jax,torch`` (run by tests/test_backends.py with
``KERAS_BACKEND`` set): for every ``OUT_DIR/<backend>/<model>.keras`` it predicts the inputs stored
next to it and prints, as the last line, JSON ``{backend: {model: max abs difference}}``. It
fails if a difference exceeds 1e-4.
"""

import json
import sys
from pathlib import Path

import keras
import numpy as np

import mgc.models  # noqa: F401  (registers the custom layers)

TOLERANCE = 1e-4


def main(out_dir: str, sources: str) -> int:
    report = {}
    for backend in sources.split(","):
        report[backend] = {}
        for path in sorted((Path(out_dir) / backend).glob("*.keras")):
            data = dict(np.load(path.with_suffix(".npz")))
            expected = data.pop("expected")
            model = keras.saving.load_model(path, compile=False)
            got = keras.ops.convert_to_numpy(model.predict_on_batch(data))
            report[backend][path.stem] = float(np.max(np.abs(got - expected)))
    print(json.dumps(report))
    worst = max((d, b, m) for b, models in report.items() for m, d in models.items())
    if worst[0] > TOLERANCE:
        print(f"{worst[2]} saved under {worst[1]} differs by {worst[0]:.2e} under {keras.backend.backend()}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

"""``python -m mgc.export CONFIG_JSON A,B [--skip-unchanged]``: the export of a run's trained
models in a TensorFlow-backend process of its own, for runs trained under a backend that cannot
write SavedModels (see :func:`mgc.export.run.export_with_tensorflow`); not a user command."""

import json
import sys

from mgc.config import load_config
from mgc.errors import UserError


def main(argv: list[str]) -> int:
    from mgc.export.run import export_run
    from mgc.training.experiment import Experiment

    settings, names, *flags = argv
    config = load_config(None, json.loads(open(settings).read()))
    try:
        export_run(Experiment(config, progress=False), names.split(","), config.export_dir,
                   skip_unchanged="--skip-unchanged" in flags)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

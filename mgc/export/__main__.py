"""``python -m mgc.export CONFIG_JSON A,B [--skip-unchanged]``: the export stage in a process of
its own (see :func:`mgc.export.run.export_with_tensorflow`); not a user command."""

import json
import sys

from mgc.config import load_config
from mgc.errors import UserError


def main(argv: list[str]) -> int:
    from mgc.pipelines.modelling import export_stage

    settings, names, *flags = argv
    config = load_config(None, json.loads(open(settings).read()))
    try:
        export_stage(config, names, progress=False, skip_unchanged="--skip-unchanged" in flags)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

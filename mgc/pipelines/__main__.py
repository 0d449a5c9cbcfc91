"""Entry point: ``python -m mgc.pipelines --help``."""

import sys

from mgc.pipelines.cli import main

if __name__ == "__main__":
    sys.exit(main())

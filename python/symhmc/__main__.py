"""``python -m symhmc run ...``: the command line (see :mod:`symhmc._cli`)."""

import sys

from symhmc._cli import main

if __name__ == "__main__":
    sys.exit(main())

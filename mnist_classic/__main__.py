"""``python -m mnist_classic``: the same as the ``mnist-classic`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

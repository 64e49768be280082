"""``python -m aiows``: the command-line WebSocket client.

See :mod:`aiows.cli` for the usage, or run ``python -m aiows --help``.
"""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

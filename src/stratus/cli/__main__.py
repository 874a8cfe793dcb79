"""``python -m stratus.cli``: the ``stratus`` command."""

import os

from stratus.cli import main

os.environ.setdefault("PYTHONUNBUFFERED", "1")
main()

"""``python -m stratus``: the ``stratus`` command."""

from stratus.cli import main

main(prog_name="stratus")

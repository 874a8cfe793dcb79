"""What every ``stratus`` command shares: the ``--data-dir`` option, loading
the configuration from it, logging, and ending cleanly on a signal."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from stratus.common import config as config_mod

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data"),
    show_default=True,
    help="Folder holding the configuration, database, keys and data.",
)


def setup_logging(level: str) -> None:
    from stratus.common import logs

    logs.setup(level)


def load_config(data_dir: Path, overrides: dict[str, Any] | None = None) -> config_mod.Config:
    """The configuration of the data folder (made, with a default file, if
    missing); a bad one is a usage error, not a traceback."""
    os.umask(0o077)  # the data folder holds secrets: keys, password hashes
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config_mod.write_default(data_dir)
    try:
        return config_mod.load(data_dir, overrides)
    except config_mod.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def exit_cleanly(signum: int, _frame: Any) -> None:
    sys.exit(0)

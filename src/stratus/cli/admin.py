"""Upkeep of a cloud: building the guest image, the database schema, the
token keys."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from stratus.cli.options import data_dir_option, load_config, setup_logging


@click.command("guest-image")
@click.option(
    "--with",
    "extras",
    multiple=True,
    type=click.Choice(["psql"]),
    help="Also carry this program (with its libraries): psql, PostgreSQL's client.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder for the image.",
)
def guest_image(extras: tuple[str, ...], out: Path) -> None:
    """Build the tiny guest image (or a variant) from the host's Debian
    packages and print its path; upload it with `openstack image create`."""
    from stratus.compute.guest.tiny import TinyImageError, build_tiny_image

    try:
        click.echo(build_tiny_image(out, extras=extras))
    except TinyImageError as e:
        raise click.ClickException(str(e)) from None


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@data_dir_option
def db_upgrade(data_dir: Path) -> None:
    """Apply schema migrations (``stratus up`` does this too)."""
    cfg = load_config(data_dir)
    setup_logging(cfg.logging.level)
    from stratus.common.db import Database

    async def run() -> None:
        database = Database(cfg.database_url)
        try:
            await database.migrate()
        finally:
            await database.close()

    asyncio.run(run())
    click.echo("database schema is current")


@click.group("token-keys")
def token_keys() -> None:
    """The keys that encrypt tokens."""


@token_keys.command("rotate")
@data_dir_option
def token_keys_rotate(data_dir: Path) -> None:
    """Promote the staged key to primary and stage a new one.

    Restart (or copy the keys to) every API process afterwards."""
    cfg = load_config(data_dir)
    from stratus.identity.service.keys import KeyRepository

    repo = KeyRepository(cfg.data_dir / "fernet-keys", cfg.identity.max_active_keys)
    primary = repo.rotate()
    click.echo(f"token keys rotated; primary key is now {primary}")

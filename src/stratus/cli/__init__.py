"""The ``stratus`` command: one group, its commands kept by what they run.

``serve`` (up, stop, status, the API workers), ``agents`` (one process per
agent), ``objectstore`` (storage nodes and rings), ``admin`` (guest image,
database schema, token keys); ``options`` holds what they share."""

from __future__ import annotations

import click

from stratus import __version__
from stratus.cli import admin, agents, objectstore, serve


@click.group()
@click.version_option(__version__, prog_name="stratus")
def main() -> None:
    """Stratus: an open cloud that speaks the OpenStack APIs."""


for _command in (
    serve.up,
    serve.stop_cmd,
    serve.status_cmd,
    serve.api_worker,
    agents.compute_agent,
    agents.volume_agent,
    agents.lb_agent,
    agents.database_agent,
    agents.network_agent,
    objectstore.storage_node,
    objectstore.ring,
    admin.guest_image,
    admin.db,
    admin.token_keys,
):
    main.add_command(_command)

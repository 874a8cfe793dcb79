"""Request schemas of the server actions that move a server: migrate,
resize (confirm, revert), evacuate and live migration (``os-migrateLive``),
with their microversion rules, as ``action_schemas.py`` has the others."""

from __future__ import annotations

import secrets

from pydantic import Field, ValidationInfo, model_validator

from stratus.common.microversion import Version
from stratus.compute.api.action_schemas import Empty, boolean
from stratus.compute.api.schemas import Aliased, ref_id
from stratus.compute.api.schemas import version_of as version
from stratus.compute.errors import BadRequest
from stratus.compute.service.live import LiveRequest

V = Version.parse


class Migrate(Aliased):
    host: str | None = None

    @model_validator(mode="after")
    def _since(self, info: ValidationInfo) -> Migrate:
        if self.model_fields_set and version(info) < V("2.56"):
            raise BadRequest(
                "Invalid input for field/attribute migrate: a body needs microversion 2.56."
            )
        return self


class MigrateAction(Aliased):
    migrate: Migrate | None


class Resize(Aliased):
    flavorRef: str | int  # noqa: N815
    disk_config: str | None = Field(default=None, alias="OS-DCF:diskConfig")

    @property
    def flavor_id(self) -> str:
        """The flavor's id, also when given as its URL."""
        return ref_id(str(self.flavorRef))


class ResizeAction(Aliased):
    resize: Resize


class ConfirmResizeAction(Aliased):
    confirm_resize: Empty = Field(alias="confirmResize")


class RevertResizeAction(Aliased):
    revert_resize: Empty = Field(alias="revertResize")


class Evacuate(Aliased):
    host: str | None = None
    adminPass: str | None = None  # noqa: N815
    onSharedStorage: bool | str | None = None  # noqa: N815
    force: bool | None = None

    @model_validator(mode="after")
    def _since(self, info: ValidationInfo) -> Evacuate:
        v = version(info)
        if self.onSharedStorage is not None and v >= V("2.14"):
            raise BadRequest("onSharedStorage was removed in microversion 2.14.")
        if self.force is not None and not V("2.29") <= v < V("2.68"):
            raise BadRequest("force is only accepted from microversion 2.29 to 2.67.")
        return self

    def admin_pass(self) -> str:
        """The password answered before 2.14 (given, or made up)."""
        return self.adminPass or secrets.token_urlsafe(9)


class EvacuateAction(Aliased):
    evacuate: Evacuate


class MigrateLive(Aliased):
    """os-migrateLive, per microversion: ``host`` and ``block_migration``
    always required; ``disk_over_commit`` required up to 2.24 and refused
    after; ``block_migration: "auto"`` from 2.25; ``force`` from 2.30 to 2.67."""

    host: str | None = None
    block_migration: bool | str | None = None
    disk_over_commit: bool | str | None = None
    force: bool | str | None = None

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> MigrateLive:
        self.request(version(info))
        return self

    def request(self, v: Version) -> LiveRequest:
        given = self.model_fields_set
        for field in ("host", "block_migration"):
            if field not in given:
                raise BadRequest(
                    f"Invalid input for field/attribute os-migrateLive: '{field}' is a required property"
                )
        if v < V("2.25"):
            if "disk_over_commit" not in given:
                raise BadRequest(
                    "Invalid input for field/attribute os-migrateLive: 'disk_over_commit' is a required property"
                )
            boolean(self.disk_over_commit, "disk_over_commit")
        elif "disk_over_commit" in given:
            raise BadRequest(
                "Invalid input for field/attribute os-migrateLive: 'disk_over_commit' is not allowed "
                "since microversion 2.25"
            )
        block = boolean(self.block_migration, "block_migration", auto=v >= V("2.25"))
        force = False
        if "force" in given:
            if not V("2.30") <= v < V("2.68"):
                raise BadRequest(
                    "Invalid input for field/attribute os-migrateLive: 'force' is allowed only in "
                    "microversions 2.30 to 2.67"
                )
            force = bool(boolean(self.force, "force"))
            if force and not self.host:
                raise BadRequest("Can't force to a non-provided destination")
        if self.host is not None and not self.host.strip():
            raise BadRequest("Invalid input for field/attribute host: it must not be empty.")
        return LiveRequest(host=self.host, block_migration=block, force=force)


class MigrateLiveAction(Aliased):
    migrate_live: MigrateLive = Field(alias="os-migrateLive")

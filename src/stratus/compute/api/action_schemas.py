"""Request schemas of the server actions (``POST /servers/{id}/action``), one
per action: the body is ``{"<action>": ...}``, and its one key picks the
route (``common.api.Route.action``).  The rules that depend on the
microversion are here too: schemas see it as their validation context.
The moves' schemas (migrate, resize, evacuate, live migration) are
``move_schemas.py``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StrictInt, StrictStr, ValidationInfo, field_validator, model_validator

from stratus.common.microversion import Version
from stratus.compute.api.schemas import Aliased, Name
from stratus.compute.api.schemas import version_of as version
from stratus.compute.errors import BadRequest

V = Version.parse
TRUE = {"true", "1", "on", "yes", "t", "y"}
FALSE = {"false", "0", "off", "no", "f", "n"}


def boolean(value: Any, field: str, auto: bool = False) -> bool | None:
    """Nova's lenient boolean (``"yes"``, ``"off"``, ...; ``"auto"`` when allowed)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if auto and text == "auto":
        return None
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    allowed = "a boolean or 'auto'" if auto else "a boolean"
    raise BadRequest(
        f"Invalid input for field/attribute {field}. Value: {value}. It must be {allowed}."
    )


def _image_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise BadRequest("Invalid input for field/attribute name: it must not be blank.")
    return name


# -- power, lock, rebuild, console ------------------------------------------------------------


class NoArgs(Aliased):
    """An action that takes no arguments: Nova accepts ``null`` and ``{}`` alike."""


Empty = NoArgs | None


class StopAction(Aliased):
    os_stop: Empty = Field(alias="os-stop")


class StartAction(Aliased):
    os_start: Empty = Field(alias="os-start")


class PauseAction(Aliased):
    pause: Empty


class UnpauseAction(Aliased):
    unpause: Empty


class SuspendAction(Aliased):
    suspend: Empty


class ResumeAction(Aliased):
    resume: Empty


class Reboot(Aliased):
    type: str

    @field_validator("type")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value.upper() not in ("SOFT", "HARD"):
            raise BadRequest(f"Invalid reboot type {value!r}: SOFT or HARD.")
        return value.upper()


class RebootAction(Aliased):
    reboot: Reboot


class Rebuild(Aliased):
    imageRef: str  # noqa: N815
    name: Name | None = None
    adminPass: str | None = None  # noqa: N815
    metadata: dict[str, str] | None = None
    preserve_ephemeral: bool | None = None
    description: str | None = None
    key_name: str | None = None
    user_data: str | None = None
    hostname: str | None = None
    disk_config: str | None = Field(default=None, alias="OS-DCF:diskConfig")


class RebuildAction(Aliased):
    rebuild: Rebuild


class Lock(Aliased):
    locked_reason: Annotated[str, Field(max_length=255)] | None = None

    @model_validator(mode="after")
    def _since(self, info: ValidationInfo) -> Lock:
        if self.locked_reason and version(info) < V("2.73"):
            raise BadRequest("locked_reason needs microversion 2.73.")
        return self


class LockAction(Aliased):
    lock: Lock | None


class UnlockAction(Aliased):
    unlock: Empty


class ConsoleOutput(Aliased):
    length: int | None = None  # the last N lines; None for all

    @field_validator("length", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError as exc:
                raise BadRequest("Invalid input for field/attribute length.") from exc
        return value

    @field_validator("length")
    @classmethod
    def _lines(cls, value: int | None) -> int | None:
        if value is not None and value < -1:
            raise BadRequest("Invalid input for field/attribute length: it must be -1 or more.")
        return None if value == -1 else value


class ConsoleAction(Aliased):
    console: ConsoleOutput = Field(alias="os-getConsoleOutput")


class TriggerCrashDumpAction(Aliased):
    trigger_crash_dump: Empty

    @model_validator(mode="after")
    def _since(self, info: ValidationInfo) -> TriggerCrashDumpAction:
        if version(info) < V("2.17"):
            raise BadRequest("The action trigger_crash_dump needs microversion 2.17 or later.")
        return self


class ResetState(Aliased):
    state: str

    @field_validator("state", mode="before")
    @classmethod
    def _known(cls, value: Any) -> Any:
        if value not in ("active", "error"):
            raise BadRequest(
                f"Invalid input for field/attribute state. Value: {value}. "
                f"{value!r} is not one of ['active', 'error']"
            )
        return value


class ResetStateAction(Aliased):
    reset_state: ResetState = Field(alias="os-resetState")


class RestoreAction(Aliased):
    restore: Empty


class ForceDeleteAction(Aliased):
    force_delete: Empty = Field(alias="forceDelete")


# -- images: createImage, createBackup, shelve, unshelve, rescue -----------------------------


class CreateImage(Aliased):
    name: Name
    metadata: dict[str, str] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _image_name(value)


class CreateImageAction(Aliased):
    create_image: CreateImage = Field(alias="createImage")


class CreateBackup(Aliased):
    name: Name
    backup_type: StrictStr
    rotation: StrictInt | StrictStr
    metadata: dict[str, str] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _image_name(value)

    @field_validator("rotation")
    @classmethod
    def _rotation(cls, value: int | str) -> int:
        if isinstance(value, bool) or (isinstance(value, str) and not value.strip().isdigit()):
            raise BadRequest(
                f"Invalid input for field/attribute rotation. Value: {value}. "
                "It must be an integer of 0 or more."
            )
        rotation = int(value)
        if rotation < 0:
            raise BadRequest(
                f"Invalid input for field/attribute rotation. Value: {value}. "
                "It must be an integer of 0 or more."
            )
        return rotation


class CreateBackupAction(Aliased):
    create_backup: CreateBackup = Field(alias="createBackup")


class ShelveAction(Aliased):
    shelve: Empty


class ShelveOffloadAction(Aliased):
    shelve_offload: Empty = Field(alias="shelveOffload")


class Unshelve(Aliased):
    availability_zone: str | None = None
    host: str | None = None


class UnshelveAction(Aliased):
    """``unshelve``: null, or from 2.77 an availability zone, from 2.91 a
    host (admin) or a null zone (unpin)."""

    unshelve: Unshelve | None

    @model_validator(mode="after")
    def _since(self, info: ValidationInfo) -> UnshelveAction:
        u, v = self.unshelve, version(info)
        if u is None:
            return self
        given = u.model_fields_set
        if v < V("2.77"):
            raise BadRequest("Invalid input for field/attribute unshelve: it must be null.")
        if "host" in given:
            if v < V("2.91"):
                raise BadRequest("Invalid input for field/attribute unshelve: host needs 2.91.")
            if not u.host:
                raise BadRequest("Invalid input for field/attribute host: it must not be blank.")
        if "availability_zone" in given and u.availability_zone is None and v < V("2.91"):
            raise BadRequest(
                "Invalid input for field/attribute availability_zone: null needs microversion 2.91."
            )
        if not given:
            raise BadRequest("Invalid input for field/attribute unshelve: an empty object.")
        return self

    @property
    def host(self) -> str | None:
        return self.unshelve.host if self.unshelve is not None else None

    @property
    def zone(self) -> str | None:
        return self.unshelve.availability_zone if self.unshelve is not None else None

    @property
    def unpin(self) -> bool:
        """A null availability zone: the server may go to any zone."""
        u = self.unshelve
        return (
            u is not None
            and "availability_zone" in u.model_fields_set
            and u.availability_zone is None
        )


class Rescue(Aliased):
    adminPass: str | None = None  # noqa: N815
    rescue_image_ref: str | None = None


class RescueAction(Aliased):
    rescue: Rescue | None


class UnrescueAction(Aliased):
    unrescue: Empty


# -- network: security groups and floating IPs (the legacy actions) -------------------------


class SecurityGroupName(Aliased):
    name: Annotated[str, Field(min_length=1, max_length=255)]


class AddSecurityGroupAction(Aliased):
    group: SecurityGroupName = Field(alias="addSecurityGroup")


class RemoveSecurityGroupAction(Aliased):
    group: SecurityGroupName = Field(alias="removeSecurityGroup")


class FloatingAddress(Aliased):
    address: Annotated[str, Field(min_length=1, max_length=64)]
    fixed_address: str | None = None


class AddFloatingIpAction(Aliased):
    floating: FloatingAddress = Field(alias="addFloatingIp")


class RemoveFloatingAddress(Aliased):
    address: Annotated[str, Field(min_length=1, max_length=64)]


class RemoveFloatingIpAction(Aliased):
    floating: RemoveFloatingAddress = Field(alias="removeFloatingIp")

"""OS::Heat::SoftwareConfig, CloudConfig and MultipartMime: configs a
server's user_data (or a MultipartMime part) takes by reference.

Each is data only: its physical id is a new UUID, as Heat's software
config ids are, and its ``config`` attribute the text.  A reference to one
(get_resource) is turned back into its text through ``Context.config``."""

from __future__ import annotations

import uuid
from email import message_from_string
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any, ClassVar

import yaml

from stratus.orchestration.drivers.base import UUID, Context, Outcome, Prop, ResourceType
from stratus.orchestration.errors import ResourceFailure, StackValidationFailed

CONFIG_TYPES = ("OS::Heat::SoftwareConfig", "OS::Heat::CloudConfig", "OS::Heat::MultipartMime")
UNGROUPED = "Heat::Ungrouped"
CONFIG_ATTRIBUTES: dict[str, str] = {"config": "The configuration text."}


def config_text(ref: Any, ctx: Context) -> str:
    """A config resource's text when ``ref`` is one's id, else ``ref`` itself."""
    text = "" if ref is None else str(ref)
    if UUID.match(text):
        found = ctx.config(text)
        if found is not None:
            return found
    return text


class SoftwareConfig(ResourceType):
    name = "OS::Heat::SoftwareConfig"
    description = "A configuration script and its inputs and outputs, for a server's user_data."
    properties: ClassVar[dict[str, Prop]] = {
        "group": Prop(default=UNGROUPED, description="The tool that applies the config."),
        "config": Prop(description="The configuration text."),
        "options": Prop("map", description="Options for the group's tool."),
        "inputs": Prop("list", description="The config's inputs: maps with name, type..."),
        "outputs": Prop("list", description="The config's outputs: maps with name, type..."),
    }
    attributes: ClassVar[dict[str, str]] = CONFIG_ATTRIBUTES

    def validate(self, props: dict[str, Any], where: str) -> dict[str, Any]:
        out = super().validate(props, where)
        for key in ("inputs", "outputs"):
            for item in out.get(key) or []:
                if not isinstance(item, dict) or "name" not in item:
                    raise StackValidationFailed(f"Property error: {where}.properties.{key}: "
                                                "each item is a map with a name")  # fmt: skip
        return out

    def text(self, props: dict[str, Any], ctx: Context) -> str:
        return str(props.get("config") or "")

    async def create(self, api: Any, props: dict[str, Any], ctx: Context) -> Outcome:
        text = self.text(props, ctx)  # immutable: a change makes a new one, as Heat
        return Outcome(str(uuid.uuid4()), {"config": text}, {"group": props.get("group")})


class CloudConfig(SoftwareConfig):
    name = "OS::Heat::CloudConfig"
    description = "A cloud-init #cloud-config document made from a map."
    properties: ClassVar[dict[str, Prop]] = {
        "cloud_config": Prop("map", default={}, description="The cloud-config as a map."),
    }

    def text(self, props: dict[str, Any], ctx: Context) -> str:
        body = yaml.safe_dump(props.get("cloud_config") or {}, default_flow_style=False)
        return f"#cloud-config\n{body}"


def _part(text: str, subtype: str, filename: str) -> MIMEText:
    try:
        text.encode("us-ascii")
        charset = "us-ascii"
    except UnicodeEncodeError:
        charset = "utf-8"
    msg = MIMEText(text, _subtype=subtype or "plain", _charset=charset)
    if filename:
        msg.add_header("Content-Disposition", "attachment", filename=filename)
    return msg


class MultipartMime(SoftwareConfig):
    name = "OS::Heat::MultipartMime"
    description = "A MIME multipart message of configs, as cloud-init reads user_data."
    properties: ClassVar[dict[str, Prop]] = {
        "group": Prop(default=UNGROUPED, description="The tool that applies the config."),
        "parts": Prop("list", default=[], description="Maps of config (a config resource's "
                      "id or text), filename, subtype and type (text or multipart)."),
    }  # fmt: skip

    def validate(self, props: dict[str, Any], where: str) -> dict[str, Any]:
        out = ResourceType.validate(self, props, where)
        for item in out.get("parts") or []:
            if not isinstance(item, dict) or set(item) - {"config", "filename", "subtype", "type"}:
                raise StackValidationFailed(f"Property error: {where}.properties.parts: each "
                                            "part is a map of config, filename, subtype, "
                                            "type")  # fmt: skip
            if item.get("type", "text") not in ("text", "multipart"):
                raise StackValidationFailed(f"Property error: {where}.properties.parts.type: "
                                            f"\"{item['type']}\" is not an allowed value "
                                            "['text', 'multipart']")  # fmt: skip
        return out

    def text(self, props: dict[str, Any], ctx: Context) -> str:
        parts: list[Message] = []
        for item in props.get("parts") or []:
            text = config_text(item.get("config"), ctx)
            if item.get("type", "text") == "multipart":
                inner = message_from_string(text)
                if not inner.is_multipart():
                    raise ResourceFailure("A multipart part's config is not a MIME multipart "
                                          "message.")  # fmt: skip
                for sub in inner.get_payload():
                    assert isinstance(sub, Message)
                    payload = sub.get_payload(decode=True)
                    body = payload.decode(sub.get_content_charset() or "utf-8") if isinstance(
                        payload, bytes) else str(sub.get_payload())  # fmt: skip
                    parts.append(_part(body, sub.get_content_subtype(), sub.get_filename() or ""))
            else:
                parts.append(_part(text, str(item.get("subtype") or ""),
                                   str(item.get("filename") or "")))  # fmt: skip
        return MIMEMultipart(_subparts=parts).as_string()

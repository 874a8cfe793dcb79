"""API microversions (Nova's and, later, Cinder's and others').

A client asks with ``OpenStack-API-Version: <service> X.Y`` (or Nova's legacy
``X-OpenStack-Nova-API-Version: X.Y``); no header means the minimum version,
``latest`` the maximum.  Above the maximum is 406; a malformed value is 400.
Every response echoes the version used."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from starlette.datastructures import Headers

from stratus.common.errors import BadRequest, StratusError

_VERSION = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


class NotAcceptable(StratusError):
    status = 406
    title = "Not Acceptable"
    default_message = "The requested API version is not supported."


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.match(text.strip())
        if not match:
            raise BadRequest(f"Invalid API version {text!r}: use MAJOR.MINOR, like 2.1.")
        return cls(int(match.group(1)), int(match.group(2)))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def at_least(self, text: str) -> bool:
        return self >= Version.parse(text)


@dataclass(frozen=True)
class Microversions:
    service: str  # the name in OpenStack-API-Version, e.g. "compute"
    minimum: Version
    maximum: Version
    legacy_header: str | None = None  # e.g. "x-openstack-nova-api-version"

    def negotiate(self, headers: Headers) -> Version:
        asked: str | None = None
        for value in headers.getlist("openstack-api-version"):
            parts = value.strip().split()
            if len(parts) == 2 and parts[0].lower() == self.service:
                asked = parts[1]
        if asked is None and self.legacy_header:
            asked = headers.get(self.legacy_header)
        if asked is None:
            return self.minimum
        if asked.strip().lower() == "latest":
            return self.maximum
        version = Version.parse(asked)
        if version.major != self.minimum.major or not (self.minimum <= version <= self.maximum):
            raise NotAcceptable(
                f"Version {version} is not supported by the API. "
                f"Minimum is {self.minimum} and maximum is {self.maximum}."
            )
        return version

    def headers(self, version: Version) -> dict[str, str]:
        out = {"OpenStack-API-Version": f"{self.service} {version}"}
        vary = ["OpenStack-API-Version"]
        if self.legacy_header:
            out["X-OpenStack-Nova-API-Version"] = str(version)
            vary.append("X-OpenStack-Nova-API-Version")
        out["Vary"] = ", ".join(vary)
        return out

"""Container sync's shared rules, as Swift's ``container_sync_realms`` and
``validate_sync_to`` define them: what an ``X-Container-Sync-To`` may name,
where it leads, and how a request between clusters is signed.

``X-Container-Sync-To`` is either ``//<realm>/<cluster>/<account>/<container>``
(the realm's cluster endpoint from the operator's realms, names compared
without case) or a full ``http(s)://host/...`` URL of a container, whose host
must be one of the allowed sync hosts.  A request sent for a realm carries
``X-Container-Sync-Auth: <realm> <nonce> <signature>``, the HMAC-SHA1 with
the realm's key (or its second key) of::

    METHOD\\nPATH\\nX-TIMESTAMP\\nNONCE\\nUSER-KEY

where USER-KEY is the containers' shared ``X-Container-Sync-Key``; without a
realm the request carries that key itself (``X-Container-Sync-Key``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlparse

from stratus.objectstore.errors import BadRequest

SYNC_TO = "x-container-sync-to"
SYNC_KEY = "x-container-sync-key"
SYNC_AUTH = "x-container-sync-auth"
FULL_URLS_REFUSED = (
    "Full URLs are not allowed for X-Container-Sync-To values. Only realm values "
    "of the format //realm/cluster/account/container are allowed.\n"
)


@dataclass(frozen=True)
class Realm:
    key: str
    key2: str = ""
    clusters: Mapping[str, str] = field(default_factory=dict)  # NAME -> endpoint


@dataclass(frozen=True)
class Target:
    """Where a synced container's changes go."""

    url: str  # the container's URL (``http://host:port/v1/AUTH_x/c``)
    realm: str | None = None  # upper-case
    realm_key: str | None = None


@dataclass(frozen=True)
class SyncRealms:
    """The operator's realms and the hosts full URLs may name."""

    realms: Mapping[str, Realm] = field(default_factory=dict)  # NAME (upper-case) -> realm
    allowed_hosts: Sequence[str] = ("127.0.0.1",)
    allow_full_urls: bool = True

    @classmethod
    def of(
        cls,
        realms: Mapping[str, tuple[str, str, Mapping[str, str]]],
        allowed_hosts: Sequence[str] = ("127.0.0.1",),
        allow_full_urls: bool = True,
    ) -> SyncRealms:
        """From ``{realm: (key, key2, {cluster: endpoint})}``, names in any case."""
        return cls(
            {
                name.upper(): Realm(key, key2, {c.upper(): e for c, e in clusters.items()})
                for name, (key, key2, clusters) in realms.items()
            },
            tuple(allowed_hosts),
            allow_full_urls,
        )

    def info(self) -> dict[str, dict[str, dict[str, dict[str, object]]]]:
        """The realms as ``/info`` shows them (their clusters, no keys)."""
        return {
            name: {"clusters": {c: {} for c in realm.clusters}}
            for name, realm in sorted(self.realms.items())
            if realm.clusters
        }

    def keys(self, realm: str) -> tuple[str, ...]:
        found = self.realms.get(realm.upper())
        if found is None:
            return ()
        return tuple(k for k in (found.key, found.key2) if k)

    def target(self, value: str) -> Target | None:
        """Where ``value`` (an X-Container-Sync-To) leads; None when it is
        empty; BadRequest with Swift's reason when it is not allowed."""
        original = value
        value = value.strip().rstrip("/")
        if not value:
            return None
        if value.startswith("//"):
            parts = value[2:].split("/")
            if len(parts) != 4 or not all(parts):
                raise BadRequest(f"Invalid X-Container-Sync-To format {original!r}")
            realm_name, cluster, account, container = parts
            realm = self.realms.get(realm_name.upper())
            if realm is None or not realm.key:
                raise BadRequest(f"No realm key for {realm_name!r}")
            endpoint = realm.clusters.get(cluster.upper())
            if not endpoint:
                raise BadRequest(f"No cluster endpoint for {realm_name!r} {cluster!r}")
            url = f"{endpoint.rstrip('/')}/{account}/{container}"
            return Target(url, realm_name.upper(), realm.key)
        if not self.allow_full_urls:
            raise BadRequest(FULL_URLS_REFUSED)
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https"):
            raise BadRequest(
                f"Invalid scheme {parsed.scheme!r} in X-Container-Sync-To, "
                'must be "//", "http", or "https".'
            )
        if not parsed.path:
            raise BadRequest("Path required in X-Container-Sync-To")
        if parsed.params or parsed.query or parsed.fragment:
            raise BadRequest("Params, queries, and fragments not allowed in X-Container-Sync-To")
        if parsed.hostname not in self.allowed_hosts:
            raise BadRequest(f"Invalid host {parsed.hostname!r} in X-Container-Sync-To")
        return Target(value)


def signature(
    method: str, path: str, timestamp: str, nonce: str, realm_key: str, user_key: str
) -> str:
    """The X-Container-Sync-Auth signature (hex HMAC-SHA1)."""
    message = "\n".join((method, path, timestamp, nonce, user_key)).encode()
    return hmac.new(realm_key.encode(), message, hashlib.sha1).hexdigest()


def valid_signature(
    given: str,
    method: str,
    paths: Sequence[str],
    timestamp: str,
    nonce: str,
    realm_keys: Sequence[str],
    user_key: str,
) -> bool:
    """Whether ``given`` signs the request with one of the realm's keys,
    over one of the paths the request may be known by."""
    return any(
        hmac.compare_digest(given, signature(method, p, timestamp, nonce, k, user_key))
        for k in realm_keys
        for p in paths
    )

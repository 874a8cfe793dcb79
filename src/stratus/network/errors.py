"""Network errors, rendered in Neutron's format::

    {"NeutronError": {"type": "NetworkNotFound", "message": "...", "detail": ""}}

Each class carries the status Neutron answers with; its ``type`` is the class
name (Neutron's exception name) unless the class says otherwise.  Errors
raised by the shared machinery (schema validation, authentication, unknown
routes) are rendered with webob's names (``HTTPBadRequest``, ...), as Neutron
renders its own HTTP errors.
"""

from __future__ import annotations

import orjson
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from stratus.common.errors import ErrorTranslations, StratusError, lost_race

_HTTP_TYPES = {
    400: "HTTPBadRequest",
    401: "HTTPUnauthorized",
    403: "HTTPForbidden",
    404: "HTTPNotFound",
    405: "HTTPMethodNotAllowed",
    409: "HTTPConflict",
    412: "HTTPPreconditionFailed",
    413: "HTTPRequestEntityTooLarge",
    415: "HTTPUnsupportedMediaType",
    500: "HTTPInternalServerError",
}


class NeutronError(StratusError):
    """The base of the network service's own errors."""

    type_name: str | None = None  # defaults to the class name

    @classmethod
    def neutron_type(cls) -> str:
        return cls.type_name or cls.__name__


# -- 400 ---------------------------------------------------------------------------


class BadRequest(NeutronError):
    status = 400
    title = "Bad Request"
    default_message = "Bad request."

    @classmethod
    def of(cls, resource: str, msg: str) -> BadRequest:
        return cls(f"Bad {resource} request: {msg}.")


class InvalidInput(BadRequest):
    def __init__(self, message: str):
        super().__init__(f"Invalid input for operation: {message}.")


class InvalidIpForSubnet(BadRequest):
    def __init__(self, ip: str):
        super().__init__(f"IP address {ip} is not a valid IP for the specified subnet.")


class InvalidIpForNetwork(BadRequest):
    def __init__(self, ip: str):
        super().__init__(
            f"IP address {ip} is not a valid IP for any of the subnets on the specified network."
        )


class InvalidAllocationPool(BadRequest):
    def __init__(self, pool: str):
        super().__init__(f"The allocation pool {pool} is not valid.")


class OutOfBoundsAllocationPool(BadRequest):
    def __init__(self, pool: str, cidr: str):
        super().__init__(f"The allocation pool {pool} spans beyond the subnet cidr {cidr}.")


class InvalidRoutes(BadRequest):
    def __init__(self, routes: object, reason: str):
        super().__init__(f"Invalid format for routes: {routes}, {reason}")


class DNSNameServersExhausted(BadRequest):
    def __init__(self, subnet: str, limit: int):
        super().__init__(
            f"Unable to complete operation for {subnet}. The number of DNS nameservers "
            f"exceeds the limit {limit}."
        )


class HostRoutesExhausted(BadRequest):
    def __init__(self, subnet: str, limit: int):
        super().__init__(
            f"Unable to complete operation for {subnet}. The number of host routes "
            f"exceeds the limit {limit}."
        )


class ExternalIpAddressExhausted(BadRequest):
    def __init__(self, net_id: str):
        super().__init__(f"Unable to find any IP address on external network {net_id}.")


class SubnetAllocationError(BadRequest):
    def __init__(self, reason: str):
        super().__init__(f"Failed to allocate subnet: {reason}.")


class IllegalSubnetPoolUpdate(BadRequest):
    def __init__(self, reason: str):
        super().__init__(f"Illegal subnetpool update : {reason}.")


# -- 403, 404 ----------------------------------------------------------------------


class PolicyNotAuthorized(NeutronError):
    status = 403
    title = "Forbidden"
    default_message = "The request is not allowed by policy."

    def __init__(self, action: str):
        super().__init__(f"({action}) is disallowed by policy")


class NotFound(NeutronError):
    status = 404
    title = "Not Found"
    default_message = "The resource could not be found."


def _not_found(kind: str, template: str) -> type[NotFound]:
    def __init__(self: NotFound, ident: str) -> None:
        NotFound.__init__(self, template.format(ident))

    return type(kind, (NotFound,), {"__init__": __init__})


NetworkNotFound = _not_found("NetworkNotFound", "Network {} could not be found.")
SubnetNotFound = _not_found("SubnetNotFound", "Subnet {} could not be found.")
PortNotFound = _not_found("PortNotFound", "Port {} could not be found.")
RouterNotFound = _not_found("RouterNotFound", "Router {} could not be found.")
FloatingIPNotFound = _not_found("FloatingIPNotFound", "Floating IP {} could not be found")
SecurityGroupNotFound = _not_found("SecurityGroupNotFound", "Security group {} does not exist")
SecurityGroupRuleNotFound = _not_found(
    "SecurityGroupRuleNotFound", "Security group rule {} does not exist"
)
SubnetPoolNotFound = _not_found("SubnetPoolNotFound", "Subnet pool {} could not be found.")
AgentNotFound = _not_found("AgentNotFound", "Agent {} could not be found.")
ExtensionNotFound = _not_found("ExtensionNotFound", "Extension {} could not be found.")


class TagNotFound(NotFound):
    def __init__(self, tag: str, resource: str, resource_id: str):
        super().__init__(f"Tag {tag} could not be found for {resource} {resource_id}.")


class RouterInterfaceNotFound(NotFound):
    def __init__(self, router_id: str, port_id: str):
        super().__init__(f"Router {router_id} does not have an interface with id {port_id}")


class RouterInterfaceNotFoundForSubnet(NotFound):
    def __init__(self, router_id: str, subnet_id: str):
        super().__init__(f"Router {router_id} has no interface on subnet {subnet_id}")


class ExternalGatewayForFloatingIPNotFound(NotFound):
    def __init__(self, network_id: str, subnet_id: str, port_id: str):
        super().__init__(
            f"External network {network_id} is not reachable from subnet {subnet_id}. "
            f"Therefore, cannot associate Port {port_id} with a Floating IP."
        )


# -- 409, 412 ----------------------------------------------------------------------


class Conflict(NeutronError):
    status = 409
    title = "Conflict"
    default_message = "The request conflicts with the current state of the resource."


class InUse(Conflict):
    pass


class NetworkInUse(InUse):
    def __init__(self, net_id: str):
        super().__init__(
            f"Unable to complete operation on network {net_id}. There are one or more "
            "ports still in use on the network."
        )


class SubnetInUse(InUse):
    def __init__(self, subnet_id: str, reason: str = ""):
        super().__init__(
            f"Unable to complete operation on subnet {subnet_id}: "
            + (reason or "One or more ports have an IP allocation from this subnet.")
        )


class PortInUse(InUse):
    def __init__(self, port_id: str, net_id: str, device_id: str):
        super().__init__(
            f"Unable to complete operation on port {port_id} for network {net_id}. "
            f"Port already has an attached device {device_id}."
        )


class ServicePortInUse(InUse):
    def __init__(self, port_id: str, reason: str):
        super().__init__(f"Port {port_id} cannot be deleted directly via the port API: {reason}.")


class RouterInUse(InUse):
    def __init__(self, router_id: str, reason: str = "still has ports"):
        super().__init__(f"Router {router_id} {reason}")


class SubnetPoolInUse(InUse):
    def __init__(self, pool_id: str):
        super().__init__(
            f"Unable to complete operation on subnet pool {pool_id}. "
            "Subnets are still allocated from it."
        )


class IpAddressAlreadyAllocated(Conflict):
    def __init__(self, ip: str, subnet_id: str):
        super().__init__(f"IP address {ip} already allocated in subnet {subnet_id}")


class IpAddressGenerationFailure(Conflict):
    def __init__(self, net_id: str):
        super().__init__(f"No more IP addresses available on network {net_id}.")


class MacAddressInUse(Conflict):
    def __init__(self, net_id: str, mac: str):
        super().__init__(
            f"Unable to complete operation for network {net_id}. The mac address {mac} is in use."
        )


class OverlappingAllocationPools(Conflict):
    def __init__(self, pool_1: str, pool_2: str, cidr: str):
        super().__init__(
            f"Found overlapping allocation pools: {pool_1} {pool_2} for subnet {cidr}."
        )


class GatewayConflictWithAllocationPools(Conflict):
    def __init__(self, ip: str, pool: str):
        super().__init__(f"Gateway ip {ip} conflicts with allocation pool {pool}.")


class GatewayIpInUse(Conflict):
    def __init__(self, ip: str, port_id: str):
        super().__init__(
            f"Current gateway ip {ip} already in use by port {port_id}. Unable to update."
        )


class OverQuota(Conflict):
    def __init__(self, resources: list[str]):
        super().__init__(f"Quota exceeded for resources: {resources}.")


class PortSecurityAndIPRequiredForSecurityGroups(Conflict):
    default_message = (
        "Port security must be enabled and port must have an IP address in order to use "
        "security groups."
    )


class AddressPairAndPortSecurityRequired(Conflict):
    default_message = (
        "Port Security must be enabled in order to have allowed address pairs on a port."
    )


class FloatingIPPortAlreadyAssociated(Conflict):
    def __init__(self, address: str, fip_id: str, port_id: str, fixed_ip: str, net_id: str):
        super().__init__(
            f"Cannot associate floating IP {address} ({fip_id}) with port {port_id} using "
            f"fixed IP {fixed_ip}, as that fixed IP already has a floating IP on external "
            f"network {net_id}."
        )


class RouterInterfaceInUseByFloatingIP(InUse):
    def __init__(self, router_id: str, subnet_id: str):
        super().__init__(
            f"Router interface for subnet {subnet_id} on router {router_id} cannot be "
            "deleted, as it is required by one or more floating IPs."
        )


class RouterInterfaceInUseByRoute(InUse):
    def __init__(self, router_id: str, subnet_id: str):
        super().__init__(
            f"Router interface for subnet {subnet_id} on router {router_id} cannot be "
            "deleted, as it is required by one or more routes."
        )


class RouterExternalGatewayInUseByFloatingIp(InUse):
    def __init__(self, router_id: str, net_id: str):
        super().__init__(
            f"Gateway cannot be updated for router {router_id}, since a gateway to external "
            f"network {net_id} is required by one or more floating IPs."
        )


class ExternalNetworkInUse(InUse):
    def __init__(self, net_id: str):
        super().__init__(
            f"External network {net_id} cannot be updated to be made non-external, since "
            "it has existing gateway ports."
        )


class AutoAllocationFailure(Conflict):
    def __init__(self, reason: str):
        super().__init__(f"Deployment error: {reason}.")


class RevisionNumberConstraintFailed(NeutronError):
    status = 412
    title = "Precondition Failed"

    def __init__(self, expected: int, current: int):
        super().__init__(f"Constrained to {expected}, but current revision is {current}")


def render(exc: StratusError) -> Response:
    if isinstance(exc, NeutronError):
        kind = exc.neutron_type()
    else:
        kind = _HTTP_TYPES.get(exc.status, "HTTPError")
    message = exc.message
    if exc.status >= 500:
        message = "Request Failed: internal server error while processing your request."
    body = {"NeutronError": {"type": kind, "message": message, "detail": ""}}
    return Response(
        orjson.dumps(body),
        status_code=exc.status,
        headers=dict(exc.headers),
        media_type="application/json",
    )


# This service's database errors as its API answers them (``ServiceAPI``):
# a uniqueness race lost to a concurrent request.
DATABASE_ERRORS: ErrorTranslations = {IntegrityError: lost_race}

"""Security groups' and their rules' errors, in Neutron's format (rendered
by ``errors.render`` like every network error)."""

from __future__ import annotations

from stratus.network.errors import BadRequest, Conflict, InUse


class SecurityGroupInvalidPortValue(BadRequest):
    def __init__(self, port: object):
        super().__init__(f"Invalid value for port {port}.")


class SecurityGroupInvalidPortRange(BadRequest):
    default_message = "For TCP/UDP protocols, port_range_min must be <= port_range_max"


class SecurityGroupInvalidIcmpValue(BadRequest):
    def __init__(self, field: str, attr: str, value: object):
        super().__init__(f"Invalid value for ICMP {field} ({attr}) {value}. It must be 0 to 255.")


class SecurityGroupMissingIcmpType(BadRequest):
    def __init__(self, value: object):
        super().__init__(
            f"ICMP code (port-range-max) {value} is provided but ICMP type "
            "(port-range-min) is missing."
        )


class SecurityGroupRuleInvalidProtocol(BadRequest):
    def __init__(self, protocol: object, values: list[str]):
        super().__init__(
            f"Security group rule protocol {protocol} not supported. Only protocol values "
            f"{values} and integer representations [0 to 255] are supported."
        )


class SecurityGroupRuleInvalidEtherType(BadRequest):
    def __init__(self, ethertype: object):
        super().__init__(
            f"Security group rule for ethertype '{ethertype}' not supported. "
            "Allowed values are ['IPv4', 'IPv6']."
        )


class SecurityGroupRuleParameterConflict(BadRequest):
    def __init__(self, ethertype: str, cidr: str):
        super().__init__(f"Conflicting value ethertype {ethertype} for CIDR {cidr}")


class SecurityGroupRemoteGroupAndRemoteIpPrefix(BadRequest):
    default_message = "Only remote_ip_prefix or remote_group_id may be provided."


class SecurityGroupInvalidProtocolForPortRange(BadRequest):
    def __init__(self, protocol: str):
        super().__init__(
            f"Invalid protocol {protocol} for port range, only supported for TCP, UDP, "
            "UDPLITE, SCTP and DCCP."
        )


class SecurityGroupEthertypeConflictWithProtocol(BadRequest):
    def __init__(self, ethertype: str, protocol: str):
        super().__init__(f"Invalid ethertype {ethertype} for protocol {protocol}.")


class SecurityGroupInUse(InUse):
    def __init__(self, sg_id: str):
        super().__init__(f"Security Group {sg_id} in use.")


class SecurityGroupRuleExists(Conflict):
    def __init__(self, rule_id: str):
        super().__init__(f"Security group rule already exists. Rule id is {rule_id}.")


class SecurityGroupDefaultAlreadyExists(Conflict):
    default_message = "Default security group already exists."


class SecurityGroupCannotRemoveDefault(Conflict):
    default_message = "Insufficient rights for removing default security group."


class SecurityGroupCannotUpdateDefault(Conflict):
    default_message = "Updating default security group not allowed."

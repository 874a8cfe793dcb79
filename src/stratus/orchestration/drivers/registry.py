"""Every resource type this cloud knows, by template name."""

from __future__ import annotations

from stratus.orchestration.drivers import (
    compute,
    config,
    heat,
    image,
    neutron,
    octavia,
    scaling,
    storage,
    trove,
    wait,
)
from stratus.orchestration.drivers.base import ResourceType

TYPES: tuple[type[ResourceType], ...] = (
    heat.RandomString, heat.Value, heat.NoneResource, heat.ResourceGroup,
    neutron.Net, neutron.Subnet, neutron.Router, neutron.RouterInterface, neutron.Port,
    neutron.FloatingIP, neutron.SecurityGroup, neutron.SecurityGroupRule,
    storage.Volume, storage.Container, compute.KeyPair, compute.Server, compute.VolumeAttachment,
    octavia.LoadBalancer, octavia.Listener, octavia.Pool, octavia.PoolMember,
    octavia.HealthMonitor, trove.Instance, wait.WaitConditionHandle, wait.WaitCondition,
    config.SoftwareConfig, config.CloudConfig, config.MultipartMime, compute.ServerGroup,
    compute.Flavor, neutron.FloatingIPAssociation, image.WebImage, scaling.AutoScalingGroup,
    scaling.ScalingPolicy,
)  # fmt: skip


def build_registry(extra: dict[str, ResourceType] | None = None) -> dict[str, ResourceType]:
    """One instance of each type; group types see the whole registry."""
    registry: dict[str, ResourceType] = {}
    for cls in TYPES:
        registry[cls.name] = cls(registry)
    registry.update(extra or {})
    return registry

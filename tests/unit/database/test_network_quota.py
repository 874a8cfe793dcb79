"""The project's network quota at create: what instances still in BUILD
will take counts as taken, what they made already is counted once."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.database.errors import OverLimit
from stratus.network import models as nm
from tests.unit.database.test_agent import CTX, cloud, new, settle

__all__ = ["cloud"]


async def test_instances_being_built_hold_their_share(cloud: Any) -> None:
    service, agent = cloud
    async with service.db.transaction() as s:
        s.add(nm.Network(id="net1", name="n", project_id="p1", segmentation_id=7))
        # Room for the default group and two instances' groups.
        s.add(nm.Quota(project_id="p1", resource="security_group", hard_limit=3))
        s.add(nm.Quota(project_id="p1", resource="floatingip", hard_limit=1))
    first = await service.instances.create(CTX, new(name="a", network_id="net1", is_public=True))
    with pytest.raises(OverLimit, match="floatingip"):
        await service.instances.create(CTX, new(name="c", network_id="net1", is_public=True))
    await service.instances.create(CTX, new(name="b", network_id="net1"))
    with pytest.raises(OverLimit, match="security_group"):
        await service.instances.create(CTX, new(name="c", network_id="net1"))
    # What the agent made for the first (its group, its port) is counted
    # once: as made, no longer as to make.
    async with service.db.transaction() as s:
        s.add(nm.SecurityGroup(name=f"trove-{first.id}", project_id="p1"))
        s.add(nm.Port(network_id="net1", mac_address="fa:16:3e:00:00:01", project_id="p1",
                      device_id=first.id))  # fmt: skip
        s.add(nm.Quota(project_id="p1", resource="port", hard_limit=3))
    with pytest.raises(OverLimit, match="security_group"):
        await service.instances.create(CTX, new(name="c", network_id="net1"))
    await service.instances.create(CTX, new(name="c"))  # no network: nothing to check
    # Built (the fake driver makes no groups): only the first's group is
    # left; "d" being built and the project's default group still to make.
    await settle(agent)
    await service.instances.create(CTX, new(name="d", network_id="net1"))
    with pytest.raises(OverLimit, match=r"'security_group'.*limit 3, 2 in use or being made, "
                                        r"2 asked"):  # fmt: skip
        await service.instances.create(CTX, new(name="e", network_id="net1"))

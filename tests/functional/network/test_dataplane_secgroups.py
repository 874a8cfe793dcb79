"""Security groups on a port: nothing comes in without a rule, a rule added
lets new connections through, a rule removed stops them; replies to what a
guest started pass (stateful); remote groups match their members; a port
without port security is not filtered at all."""

from __future__ import annotations

from dataclasses import replace

from tests.functional.network.lab import Lab, allow, default_rules, wait_for


def test_rules_follow_changes_and_are_stateful(lab: Lab) -> None:
    settings = lab.host_settings("h1", 1, tunnel=False)
    t = lab.topo
    net = t.network("10.51.0.0/24")
    client_sg = t.group((allow("egress"),))
    server_sg = t.group((allow("egress"),))
    client = t.port("h1", net, "10.51.0.11", (client_sg,))
    server = t.port("h1", net, "10.51.0.12", (server_sg,))
    t.serve_dhcp("h1", net)
    gc, gs = lab.guest("h1", client), lab.guest("h1", server)
    lab.start_agent("h1", settings)
    lab.apply()
    gc.dhcp()
    gs.dhcp()
    gs.serve(22)
    gc.serve(8000)

    # No ingress rule: refused (dropped).  The server's own connection out
    # gets its answers back (stateful), though nothing may come in to it.
    assert gc.connect("10.51.0.12", 22) is None
    assert not gc.ping("10.51.0.12")
    t.set_rules(client_sg, (allow("egress"), allow("ingress", "tcp", 8000)))
    lab.apply()
    assert gs.connect("10.51.0.11", 8000) == "hello"

    # A rule added: new connections pass.
    t.set_rules(server_sg, (allow("egress"), allow("ingress", "tcp", 22)))
    lab.source.wake()
    wait_for("the rule to be enforced", lambda: gc.connect("10.51.0.12", 22, timeout=1) == "hello")
    assert not gc.ping("10.51.0.12")  # only what the rule says

    # Removed: new connections are cut.
    t.set_rules(server_sg, (allow("egress"),))
    lab.source.wake()
    wait_for("the rule to be gone", lambda: gc.connect("10.51.0.12", 22, timeout=1) is None)

    # A remote group: members of the client's group may ping, others not.
    t.set_rules(server_sg, (allow("egress"), allow("ingress", "icmp", remote_group_id=client_sg)))
    lab.apply()
    assert gc.ping("10.51.0.12", count=3)
    assert not gs.ping("10.51.0.11")  # the client's group admits no ICMP

    # A remote prefix: only that range.
    t.set_rules(
        server_sg, (allow("egress"), allow("ingress", "tcp", 22, remote_ip_prefix="10.51.0.0/28"))
    )
    lab.apply()
    assert gc.connect("10.51.0.12", 22) == "hello"
    t.set_rules(
        server_sg, (allow("egress"), allow("ingress", "tcp", 22, remote_ip_prefix="10.51.0.128/25"))
    )
    lab.apply()
    assert gc.connect("10.51.0.12", 22) is None

    # No egress rule: the client cannot start anything.
    t.set_rules(server_sg, (allow("egress"), allow("ingress", "tcp", 22)))
    t.set_rules(client_sg, (allow("ingress", "tcp", 8000),))
    lab.apply()
    assert gc.connect("10.51.0.12", 22) is None

    # Port security off: nothing filtered either way, spoofing included.
    t.update_port(replace(client, port_security_enabled=False, security_group_ids=()))
    t.update_port(replace(server, port_security_enabled=False, security_group_ids=()))
    lab.apply()
    assert gc.ping("10.51.0.12", count=3)
    gc.run("ip", "addr", "add", "10.51.0.99/24", "dev", "eth0")
    assert gc.ping("10.51.0.12", count=3)


def test_default_group_lets_members_in_and_others_not(lab: Lab) -> None:
    settings = lab.host_settings("h1", 1, tunnel=False)
    t = lab.topo
    net = t.network("10.52.0.0/24", dhcp=False)
    default = t.group()
    t.set_rules(default, default_rules(default))
    other = t.group((allow("egress"),))
    p1 = t.port("h1", net, "10.52.0.11", (default,))
    p2 = t.port("h1", net, "10.52.0.12", (default,))
    p3 = t.port("h1", net, "10.52.0.13", (other,))
    g1, g2, g3 = lab.guest("h1", p1), lab.guest("h1", p2), lab.guest("h1", p3)
    lab.start_agent("h1", settings)
    lab.apply()
    for g in (g1, g2, g3):
        g.configure()
    assert g1.ping("10.52.0.12", count=3)
    assert not g3.ping("10.52.0.12", count=2)
    # The third port joins the group: its address becomes a member.
    t.update_port(replace(p3, security_group_ids=(default,)))
    lab.apply()
    assert g3.ping("10.52.0.12", count=3)

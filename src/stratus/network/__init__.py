"""Networking: Neutron v2.0."""

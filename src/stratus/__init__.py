"""Stratus: an open cloud platform that speaks the OpenStack APIs."""

__version__ = "0.1.0"

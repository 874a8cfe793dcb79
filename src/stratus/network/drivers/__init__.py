"""The network data plane drivers."""

"""The block storage API (Cinder v3)."""

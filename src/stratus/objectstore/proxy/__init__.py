"""The object store's proxy: Swift's API in front of the storage nodes.

- :mod:`.core`: the replicas of a name, reads with failover, quorum writes.
- :mod:`.stream`: an object's data streamed to all replicas at once.
- :mod:`.accounts`, :mod:`.containers`, :mod:`.objects`: Swift's semantics
  (account autocreation, listings, quotas, copies) over the core.
"""

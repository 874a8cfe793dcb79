"""The object store: Swift's API v1 over rings of storage nodes.

- :mod:`.api`: Swift's HTTP face (paths, headers, handlers, rendering).
- :mod:`.layers`: Swift's middleware features (SLO, DLO, TempURL, FormPost,
  bulk delete, versioning), each wrapping the interface beneath it.
- :mod:`.service`: the object-store interface and its core: reads, quorum
  writes and streamed uploads to the replicas the rings name.
- :mod:`.ring`: names to partitions to devices; the all-in-one's rings.
- :mod:`.node`: a storage node (object, container and account servers).
- :mod:`.drivers`: objects as files, listings as SQLite databases, and an
  in-memory fake for tests.
- :mod:`.agent`: the background workers (replicators, auditor, updater,
  expirer).
"""

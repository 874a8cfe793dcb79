"""The object store's storage layer: the ring, objects on disk, and the
container and account databases beside them.

- :mod:`.ring` and :mod:`.ringbuilder`: names to partitions to devices.
- :mod:`.timestamp`: Swift-style versions.
- :mod:`.diskfile` and :mod:`.hashes`: objects as files, suffix hashes.
- :mod:`.database`, :mod:`.containerdb`, :mod:`.accountdb`: listings.

Everything here is blocking, synchronous disk work; callers on the event loop
run it in threads.
"""

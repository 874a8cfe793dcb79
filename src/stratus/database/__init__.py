"""The database service (Trove v1.0): PostgreSQL and MariaDB servers run by a
database agent, each in a namespace of its own on the tenant network, in a
cgroup of its own, with its data on a block-storage volume."""

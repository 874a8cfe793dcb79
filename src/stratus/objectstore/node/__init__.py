"""Storage nodes: the objects, container and account listings on a node's
devices, served to the proxy in-process (all-in-one) or over HTTP."""

"""The object store's Swift API v1: routes, handlers and the ASGI app."""

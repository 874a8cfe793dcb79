"""Every service's tables, imported so that one metadata knows them all."""

from stratus.identity import models as identity_models  # noqa: F401

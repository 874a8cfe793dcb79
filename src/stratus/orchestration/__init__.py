"""Orchestration: Heat v1.  Templates become a plan of resources, made by
the engine agent through the other services' public APIs."""

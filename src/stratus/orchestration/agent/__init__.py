"""The orchestration engine agent: it runs the stacks' create, update,
rollback and delete tasks recorded by the API."""

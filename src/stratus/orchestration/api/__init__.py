"""The orchestration API: Heat v1 under /orchestration."""

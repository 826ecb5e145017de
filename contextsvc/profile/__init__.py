"""Profile stage: per-person call state, updated incrementally as calls land."""

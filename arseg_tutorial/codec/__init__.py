"""codec (filled in by its issue)."""

"""scenes (filled in by its issue)."""

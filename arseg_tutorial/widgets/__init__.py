"""widgets (filled in by its issue)."""

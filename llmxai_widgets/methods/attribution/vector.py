"""Vector-based attribution (being written)."""

"""Perturbation-based attribution (being written)."""

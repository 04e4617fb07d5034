"""Explanation methods: pure computation on a LoadedModel, returning result dataclasses."""

from .attention import Cancelled, attention, check_index, resolve_layers
from .head_summary import HeadSummary, head_summary
from .registry import METHODS, get_method, register

__all__ = ["METHODS", "Cancelled", "attention", "check_index", "get_method", "register", "resolve_layers"]

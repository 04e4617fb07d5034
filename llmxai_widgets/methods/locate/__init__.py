"""Locate: causal tracing and activation patching (which layers, tokens and heads carry an answer)."""

from .patching import PatchingResult, patch
from .trace import CausalTraceResult, causal_trace

__all__ = ["CausalTraceResult", "PatchingResult", "causal_trace", "patch"]

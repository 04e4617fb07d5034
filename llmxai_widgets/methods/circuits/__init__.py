"""Circuits: which heads and MLPs pass what to which, scored per edge (EAP, EAP-IG, exact)."""

from . import tasks
from .circuit import circuit
from .result import Circuit, CircuitResult

__all__ = ["Circuit", "CircuitResult", "circuit", "tasks"]

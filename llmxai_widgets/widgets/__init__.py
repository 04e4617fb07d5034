"""Thin anywidget classes; each pairs with js/widgets/<name>.ts."""

from .attention import AttentionView
from .attribution import AttributionView
from .circuits import CircuitView
from .contributions import ContributionView
from .locate import CausalTraceView, PatchingView
from .logit_lens import LogitLensView
from .edit import EditView
from .evaluation import EvaluationView
from .about import lesson_mode
from .explorer import Explorer
from .link import Link, link
from .neurons import NeuronView
from .probe import ProbeView
from .steering import SteeringView

__all__ = ["AttentionView", "AttributionView", "CausalTraceView", "CircuitView", "ContributionView", "LogitLensView", "NeuronView",
           "PatchingView", "ProbeView", "SteeringView", "EditView", "EvaluationView", "Explorer", "Link", "link", "lesson_mode"]

"""llmxai_widgets: interactive, offline notebook widgets that explain transformer language models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llmxai_widgets")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from .methods import attention
from .methods.attention import encoder_decoder_attention
from .methods.attribution import AttributionResult, attribute
from .methods.circuits import Circuit, CircuitResult, circuit
from .methods.circuits import tasks as circuit_tasks
from .methods.contributions import ContributionResult, contributions
from .methods.evaluate.agreement import Agreement, agreement, plausibility
from .methods.evaluate.faithfulness import FaithfulnessResult, faithfulness
from .methods.evaluate.rationale import RationaleScores, score_rationale
from .methods.head_summary import HeadSummary, head_summary
from .methods.locate import CausalTraceResult, PatchingResult, causal_trace, patch
from .methods.logit_lens import LogitLensResult, logit_lens
from .methods.neurons import (
    NeuronExample,
    NeuronResult,
    NMFResult,
    TopActivations,
    neurons,
    nmf,
    top_activating,
)
from .methods.use import datasets as probe_datasets
from .methods.use import facts as edit_facts
from .methods.use.edit import Edit, edit
from .methods.use.probe import ProbeResult, probe
from .methods.use.steering import SteeringVector, steer, steering_vector
from .models import LoadedModel, Tokens, load_model
from .results import AttentionResult
from .widgets import (
    AttentionView,
    AttributionView,
    CausalTraceView,
    CircuitView,
    ContributionView,
    LogitLensView,
    NeuronView,
    EditView,
    EvaluationView,
    Explorer,
    Link,
    PatchingView,
    ProbeView,
    SteeringView,
    lesson_mode,
    link,
)
from .bertviz_compat import head_view, model_view  # noqa: E402  (needs the widgets)
from .widgets.export_html import save_html, to_html  # noqa: E402

__all__ = [
    "Agreement",
    "AttentionResult",
    "AttentionView",
    "AttributionResult",
    "AttributionView",
    "CausalTraceResult",
    "CausalTraceView",
    "Circuit",
    "CircuitView",
    "CircuitResult",
    "ContributionResult",
    "ContributionView",
    "Edit",
    "FaithfulnessResult",
    "EditView",
    "Explorer",
    "HeadSummary",
    "Link",
    "LoadedModel",
    "LogitLensResult",
    "LogitLensView",
    "NMFResult",
    "NeuronExample",
    "NeuronResult",
    "NeuronView",
    "PatchingResult",
    "PatchingView",
    "ProbeResult",
    "ProbeView",
    "EvaluationView",
    "RationaleScores",
    "SteeringVector",
    "SteeringView",
    "Tokens",
    "TopActivations",
    "__version__",
    "agreement",
    "attention",
    "attribute",
    "causal_trace",
    "circuit",
    "circuit_tasks",
    "contributions",
    "edit",
    "edit_facts",
    "faithfulness",
    "lesson_mode",
    "link",
    "encoder_decoder_attention",
    "head_summary",
    "head_view",
    "load_model",
    "logit_lens",
    "model_view",
    "neurons",
    "nmf",
    "patch",
    "plausibility",
    "probe",
    "probe_datasets",
    "save_html",
    "score_rationale",
    "steer",
    "steering_vector",
    "to_html",
    "top_activating",
]

"""llmxai_widgets: interactive, offline notebook widgets that explain transformer language models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llmxai_widgets")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from .methods import attention
from .methods.attention import encoder_decoder_attention
from .methods.attribution import AttributionResult, attribute
from .methods.head_summary import HeadSummary, head_summary
from .models import LoadedModel, Tokens, load_model
from .results import AttentionResult
from .widgets import AttentionView, AttributionView
from .bertviz_compat import head_view, model_view  # noqa: E402  (needs the widgets)
from .widgets.export_html import save_html, to_html  # noqa: E402

__all__ = [
    "AttentionResult",
    "AttentionView",
    "AttributionResult",
    "AttributionView",
    "HeadSummary",
    "LoadedModel",
    "Tokens",
    "__version__",
    "attention",
    "attribute",
    "encoder_decoder_attention",
    "head_summary",
    "head_view",
    "load_model",
    "model_view",
    "save_html",
    "to_html",
]

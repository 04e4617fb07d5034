"""llmxai_widgets: interactive, offline notebook widgets that explain transformer language models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llmxai_widgets")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from .methods import attention
from .models import LoadedModel, Tokens, load_model
from .results import AttentionResult
from .widgets import AttentionView

__all__ = ["AttentionResult", "AttentionView", "LoadedModel", "Tokens", "__version__", "attention", "load_model"]

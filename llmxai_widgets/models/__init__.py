"""Model access: bundled models, loading, per-architecture module maps."""

from .architectures import ARCHITECTURES, Architecture, UnknownArchitecture, architecture_for
from .bundled import BundledModelMissing
from .loader import load_model
from .wrapped import LoadedModel, Tokens, check_text

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "BundledModelMissing",
    "LoadedModel",
    "Tokens",
    "UnknownArchitecture",
    "architecture_for",
    "check_text",
    "load_model",
]

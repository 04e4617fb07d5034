"""Thin anywidget classes; each pairs with js/widgets/<name>.ts."""

from .attention import AttentionView
from .attribution import AttributionView

__all__ = ["AttentionView", "AttributionView"]

"""Thin anywidget classes; each pairs with js/widgets/<name>.ts."""

from .attention import AttentionView

__all__ = ["AttentionView"]

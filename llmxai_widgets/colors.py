"""Colour maps shared with the browser: both sides read ``colormaps.json`` (256 RGB entries).

A value maps to entry ``round((value - vmin) / (vmax - vmin) * 255)``, clamped; the JS twin is
``js/core/colors.ts`` and the browser tests check the two agree pixel for pixel.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np


@cache
def _tables() -> dict[str, np.ndarray]:
    raw = json.loads((Path(__file__).parent / "colormaps.json").read_text())
    return {name: np.frombuffer(bytes.fromhex(h), np.uint8).reshape(256, 3) for name, h in raw.items()}


def colormap_names() -> list[str]:
    return sorted(_tables())


def lut(name: str = "viridis") -> np.ndarray:
    """``[256, 3]`` uint8 RGB table of colour map ``name``."""
    try:
        return _tables()[name]
    except KeyError:
        raise ValueError(f"unknown colour map {name!r}; choose one of {', '.join(colormap_names())}") from None


def color_index(values, vmin: float, vmax: float) -> np.ndarray:
    span = vmax - vmin if vmax > vmin else 1.0
    scaled = (np.asarray(values, dtype=np.float64) - vmin) / span * 255.0
    return np.clip(np.floor(scaled + 0.5), 0, 255).astype(np.int64)


def to_rgb(values, vmin: float, vmax: float, name: str = "viridis") -> np.ndarray:
    """RGB uint8 colours (``[..., 3]``) of ``values`` on colour map ``name``."""
    return lut(name)[color_index(values, vmin, vmax)]

"""A figure as a list of positioned items (points, y down), rendered to SVG, PDF and PNG by one
renderer (matplotlib's, headless: no browser, no kernel, no network).

Text stays text: SVG keeps ``<text>`` elements (``svg.fonttype = none``) and PDF embeds the font
as a TrueType subset (``pdf.fonttype = 42``), so the words can be searched, copied and restyled.
Token text is never parsed as math or markup (``parse_math=False``); the SVG writer escapes it,
and :func:`drawable` (applied to every :class:`Text` and to what :func:`text_width` measures)
keeps out what XML 1.0 or the writers cannot carry.
"""

from __future__ import annotations

import io
import re
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMATS = ("svg", "pdf", "png")
THEMES = {
    # background, text, masked cells, lines
    "light": {"background": "#ffffff", "text": "#1a1a1a", "muted": "#666666", "masked": (200, 200, 200)},
    "dark": {"background": "#111111", "text": "#e6e6e6", "muted": "#a0a0a0", "masked": (70, 70, 70)},
}


_RENDERING = threading.Lock()

# C0 controls other than tab, newline and carriage return: XML 1.0 forbids them, so an SVG holding
# one would not parse (``display_token`` already shows them in token labels; this catches the rest)
_XML_CONTROLS = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def drawable(text: str) -> str:
    """``text`` as every format can write it: C0 controls as ``[U+0007]`` (as ``display_token``
    shows them), lone surrogates (which UTF-8 cannot encode) as U+FFFD, the noncharacters U+FFFE
    and U+FFFF (not XML) as U+FFFD, and U+FEFF as U+2060 (both an invisible word joiner;
    matplotlib's PDF writer fails on U+FEFF)."""
    if not isinstance(text, str):
        return text
    text = _XML_CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)
    text = _SURROGATES.sub("\ufffd", text)
    return text.replace("\ufffe", "\ufffd").replace("\uffff", "\ufffd").replace("\ufeff", "\u2060")


@dataclass
class Text:
    x: float
    y: float
    text: str
    size: float
    color: str
    ha: str = "left"  # left | center | right
    va: str = "baseline"  # top | center | baseline | bottom
    rotation: float = 0.0  # degrees, counter-clockwise
    weight: str = "normal"

    def __post_init__(self):
        self.text = drawable(self.text)


@dataclass
class Image:
    """An RGB bitmap stretched over a rectangle, drawn without smoothing (one block per cell)."""

    x: float
    y: float
    width: float
    height: float
    rgb: np.ndarray  # [rows, cols, 3] uint8


@dataclass
class Rect:
    x: float
    y: float
    width: float
    height: float
    edge: str | None = None
    fill: str | None = None
    line_width: float = 0.5


@dataclass
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    color: str
    alpha: float = 1.0
    width: float = 1.0


@dataclass
class Circle:
    x: float
    y: float
    radius: float
    fill: str


@dataclass
class Curve:
    """A cubic Bezier curve through four control points ``[(x, y)] * 4``."""

    points: list
    color: str
    alpha: float = 1.0
    width: float = 1.0


@dataclass
class Figure:
    """``width`` x ``height`` points (1/72 inch) of items, drawn in order."""

    width: float
    height: float
    font_family: str
    theme: str = "light"
    items: list = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [item.text for item in self.items if isinstance(item, Text)]

    # -- output -----------------------------------------------------------------------------------
    def save(self, path, *, dpi: float = 200, format: str | None = None) -> Path:
        """Write the figure; the format comes from ``format`` or the file's suffix."""
        path = Path(path)
        fmt = (format or path.suffix.lstrip(".")).lower()
        if fmt not in FORMATS:
            raise ValueError(
                f"cannot write {path.name!r}: the format {fmt or '(none)'!r} is not one of "
                f"{', '.join(FORMATS)} (html: use the view's save())"
            )
        path.write_bytes(self.to_bytes(fmt, dpi=dpi))
        return path

    def to_bytes(self, fmt: str, *, dpi: float = 200) -> bytes:
        import matplotlib

        if fmt == "png" and (self.width / 72 * dpi) * (self.height / 72 * dpi) > 120e6:
            raise ValueError(
                f"a {self.width / 72:.1f} x {self.height / 72:.1f} in PNG at {dpi:g} dpi would have over 120 million "
                f"pixels; lower dpi=, give width=, or write SVG/PDF"
            )
        fig = self._matplotlib()
        out = io.BytesIO()
        rc = {"svg.fonttype": "none", "pdf.fonttype": 42, "svg.hashsalt": "llmxai-widgets", "svg.image_inline": True}
        metadata = {"Date": None} if fmt in ("svg", "pdf") else None
        # rc_context is process-wide: a static figure drawn in one thread while an Export button
        # draws in another could lose svg.fonttype (text turned into paths), so one at a time
        with _RENDERING, matplotlib.rc_context(rc), warnings.catch_warnings():
            # a glyph the font lacks (an emoji) draws as a box; the text itself stays in SVG and PDF
            warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
            fig.savefig(out, format=fmt, dpi=dpi if fmt == "png" else 72, facecolor=fig.get_facecolor(),
                        metadata=metadata)
        return out.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png(dpi=144)

    def _repr_mimebundle_(self, include=None, exclude=None):
        # shown at its size in inches (a 144-dpi PNG at half its pixel width: sharp on HiDPI)
        return {"image/png": self._repr_png_()}, {"image/png": {"width": round(self.width / 72 * 96)}}

    def svg(self) -> str:
        return self.to_bytes("svg").decode("utf-8")

    def png(self, dpi: float = 200) -> bytes:
        return self.to_bytes("png", dpi=dpi)

    def _matplotlib(self):
        from matplotlib.figure import Figure as MplFigure

        colors = THEMES[self.theme]
        fig = MplFigure(figsize=(self.width / 72, self.height / 72), dpi=72)
        fig.patch.set_facecolor(colors["background"])
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.set_xlim(0, self.width)
        ax.set_ylim(self.height, 0)
        for item in self.items:
            if isinstance(item, Image):
                ax.imshow(
                    item.rgb, extent=(item.x, item.x + item.width, item.y + item.height, item.y),
                    interpolation="nearest", resample=False, aspect="auto",
                )
            elif isinstance(item, Rect):
                from matplotlib.patches import Rectangle

                ax.add_patch(Rectangle(
                    (item.x, item.y), item.width, item.height, linewidth=item.line_width,
                    edgecolor=item.edge or "none", facecolor=item.fill or "none",
                ))
            elif isinstance(item, Line):
                ax.plot([item.x1, item.x2], [item.y1, item.y2], color=item.color, alpha=item.alpha,
                        linewidth=item.width, solid_capstyle="butt")
            elif isinstance(item, Circle):
                from matplotlib.patches import Circle as MplCircle

                ax.add_patch(MplCircle((item.x, item.y), item.radius, facecolor=item.fill, edgecolor="none"))
            elif isinstance(item, Curve):
                from matplotlib.patches import PathPatch
                from matplotlib.path import Path as MplPath

                path = MplPath(item.points, [MplPath.MOVETO, MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4])
                ax.add_patch(PathPatch(path, facecolor="none", edgecolor=item.color, alpha=item.alpha,
                                       linewidth=item.width, capstyle="butt"))
            elif isinstance(item, Text):
                ax.text(
                    item.x, item.y, item.text, fontsize=item.size, color=item.color, family=self.font_family,
                    ha=item.ha, va=item.va, rotation=item.rotation, rotation_mode="anchor",
                    fontweight=item.weight, parse_math=False, usetex=False,
                )
        ax.set_xlim(0, self.width)
        ax.set_ylim(self.height, 0)
        return fig


def text_width(text: str, size: float, family: str) -> float:
    """Advance width of ``text`` in points at ``size`` points, in ``family`` (matplotlib's
    font matching and shaping, the same the renderer uses)."""
    from matplotlib.font_manager import FontProperties

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        width, _height, _descent = _text_to_path().get_text_width_height_descent(
            drawable(text), FontProperties(family=family, size=size), ismath=False
        )
    return float(width)


_TTP = None


def wrap(text: str, width: float, size: float, family: str) -> list[str]:
    """``text`` broken at spaces into lines of at most ``width`` points."""
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if line and text_width(candidate, size, family) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return lines + [line] if line else lines


def _text_to_path():
    global _TTP
    if _TTP is None:
        from matplotlib.textpath import TextToPath

        _TTP = TextToPath()
    return _TTP


def parse_length(value, what: str = "width") -> float:
    """A length in points from a number (inches) or a string with a unit: "3.5in", "252pt",
    "9cm", "90mm"."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a number of inches or a string such as '3.5in', got {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        points = float(value) * 72
    elif isinstance(value, str):
        units = {"in": 72.0, "pt": 1.0, "cm": 72 / 2.54, "mm": 72 / 25.4, "px": 0.75}
        s = value.strip().lower()
        unit = next((u for u in units if s.endswith(u)), None)
        try:
            points = float(s[: -len(unit)] if unit else s) * (units[unit] if unit else 72.0)
        except ValueError:
            raise ValueError(f"{what} {value!r} is not a length; write e.g. '3.5in', '252pt', '9cm' or 3.5") from None
    else:
        raise TypeError(f"{what} must be a number of inches or a string such as '3.5in', got {type(value).__name__}")
    if not points > 0:
        raise ValueError(f"{what} must be positive, got {value!r}")
    return points

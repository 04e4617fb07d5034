"""Regenerate llmxai_widgets/colormaps.json (256-entry colour tables shared by Python and JS).

Run once by hand when adding a colour map; needs matplotlib (not a project dependency).
viridis and cividis are colour-blind-safe sequential maps, RdBu_r a diverging one.
"""

import json
from pathlib import Path

import matplotlib
import numpy as np

NAMES = ["viridis", "cividis", "magma", "RdBu_r"]

tables = {}
for name in NAMES:
    rgba = matplotlib.colormaps[name](np.linspace(0, 1, 256))
    rgb = np.rint(rgba[:, :3] * 255).astype(np.uint8)
    tables[name] = rgb.tobytes().hex()
out = Path(__file__).resolve().parent.parent / "llmxai_widgets" / "colormaps.json"
out.write_text(json.dumps(tables, indent=1) + "\n")
print("wrote", out)

"""Every example notebook runs headless from top to bottom and saves its widgets' state."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.ipynb"))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_notebook_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
        store_widget_state=True,
    )
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    views = [o for o in outputs if WIDGET_MIME in o.get("data", {})]
    assert views, "the notebook should display at least one widget"
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    saved = [state[view["data"][WIDGET_MIME]["model_id"]] for view in views]
    assert all(s["state"]["_model_module"] == "anywidget" for s in saved), (
        "only our views should appear (no stray progress-bar widgets)"
    )
    for entry in saved:
        assert entry["state"]["status"] == "ready", entry["state"].get("error")
        paths = [b["path"] for b in entry.get("buffers", [])]
        assert ["pattern", "data"] in paths, "the saved notebook keeps the drawn layer's bytes"

"""The views outside JupyterLab: Jupyter Notebook 7, marimo (``mo.ui.anywidget(view)`` in
``marimo run``) and Voila, each served from this interpreter on a free 127.0.0.1 port.

One LogitLensView of the bundled SmolLM2 (a window of 8 of the text's 13 positions), and in each
front end:

- it draws: every cell of the grid has the colour Python's ``colors.to_rgb`` gives the top
  token's probability there (lx.logit_lens computed in this process);
- a click answers: a cell lists that cell's top tokens (as Python ranks them); the PNG Export
  button gets Python's figure back (a custom message each way, the file as a binary buffer);
  the "earlier tokens" arrow makes Python compute an earlier window, whose cells are checked again;
- no console error and no uncaught exception on the page once the view runs;
- no request leaves the machine (every URL is 127.0.0.1/localhost, blob: or data:; any other is
  aborted and reported). Voila's own page template links two Font Awesome stylesheets on a CDN:
  those, and only URLs written in that template, are tolerated (the view needs neither).

Each server runs in its own process group with its configuration, runtime and data folders in a
temporary folder, and is stopped with its kernels when its test ends.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import KERNEL_TIMEOUT, SERVER_START_TIMEOUT, Notebook, _KERNEL_READY_JS, _free_port, _kill_group, write_notebook
from lab_cells import assert_cells, click_cell
from llmxai_widgets.colors import to_rgb
from llmxai_widgets.figures import display_token

TEXT = "The Eiffel Tower is in Paris. The capital of France is"  # 13 tokens
WINDOW = 8  # the smallest window the view offers: it shows positions 5-12, the arrow moves it to 1-8
CODE = f"import llmxai_widgets as lx\nmodel = lx.load_model()\nview = lx.LogitLensView(model, {TEXT!r}, window={WINDOW})"
GRID = ".lxw-lens .lxw-cellgrid canvas.lxw-cells"
DRAW_TIMEOUT = 90_000  # ms: a fresh kernel imports torch and loads the model
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def lens():
    """Python's lens of the two windows the view shows: the last WINDOW positions, then the
    window half a window earlier (the view's "earlier tokens" arrow)."""
    import llmxai_widgets as lx

    model = lx.load_model()
    n = len(model.tokenize(TEXT).ids)
    starts = (n - WINDOW, max(0, n - WINDOW - WINDOW // 2))
    return model, [(start, lx.logit_lens(model, TEXT, top_k=5, positions=list(range(start, start + WINDOW)))) for start in starts]


# -- servers -----------------------------------------------------------------------------------

class Server:
    def __init__(self, url: str, root: Path, log: Path):
        self.url, self.root, self.log = url, root, log

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no server log)"


@contextmanager
def serve(base: Path, name: str, cmd: list[str], ready: str, port: int, prepare=None):
    """Run ``cmd`` (in the folder ``base/root``) in its own process group with every Jupyter and
    XDG config/state folder in ``base``; yield once ``ready`` (a path) answers 200; stop the group."""
    root = base / "root"
    root.mkdir()
    dirs = {var: base / var.lower() for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR",
                                                "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "XDG_CONFIG_HOME",
                                                "XDG_STATE_HOME")}
    for d in dirs.values():
        d.mkdir()
    if prepare:
        prepare(root)
    env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
           "MARIMO_SKIP_UPDATE_CHECK": "1"}
    env.pop("JUPYTER_TOKEN", None)
    url = f"http://127.0.0.1:{port}"
    log = base / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(url, root, log)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(url + ready, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer {ready} in {SERVER_START_TIMEOUT:.0f} s:\n{server.log_tail()}")
            time.sleep(0.25)
        yield server
    finally:
        _kill_group(proc)


# -- the page: errors and requests -------------------------------------------------------------

def is_local(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("blob", "data", "about"):
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in ("127.0.0.1", "localhost")


class Watch:
    """Console errors, uncaught exceptions and every request of a page; a request off the machine
    is aborted and recorded. ``phase`` tags what happens before and after the view runs."""

    def __init__(self, page):
        self.page, self.phase = page, "load"
        self.errors: list[tuple[str, str, str]] = []  # (phase, message, where)
        self.offsite: list[str] = []
        self.requests = 0
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.errors.append((self.phase, f"uncaught: {err}", err.stack or "")))
        page.on("request", self._request)
        page.on("websocket", lambda ws: self._request_url(ws.url))
        page.route(lambda url: not is_local(url), lambda route: route.abort())

    def _console(self, msg) -> None:
        if msg.type == "error":
            self.errors.append((self.phase, msg.text, (msg.location or {}).get("url", "")))

    def _request(self, request) -> None:
        self._request_url(request.url)

    def _request_url(self, url: str) -> None:
        self.requests += 1
        if not is_local(url):
            self.offsite.append(url)

    def errors_after_load(self) -> list:
        """Errors once the view ran, leaving out the console's echo of an aborted off-site request
        (those are checked as requests)."""
        return [e for e in self.errors if e[0] != "load" and e[2] not in self.offsite]


@pytest.fixture
def fresh_page(browser):
    """A page of its own per front end (downloads allowed for the Export button)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1400}, device_scale_factor=2, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


# -- what every front end must do --------------------------------------------------------------

def _wait_window(page, grid, positions: str) -> None:
    page.wait_for_function("([c, p]) => c.dataset.rows === '31' && c.dataset.positions === p",
                           arg=[grid.element_handle(timeout=DRAW_TIMEOUT), positions], timeout=DRAW_TIMEOUT)


def check_view(page, lens, artifacts, front: str) -> dict:
    """The view on ``page`` draws the lens, answers a cell click, an Export click and a window
    move; returns what was seen (for the report in the failure message)."""
    model, ((start, first), (moved, second)) = lens
    grid = page.locator(GRID).first
    grid.wait_for(state="attached", timeout=DRAW_TIMEOUT)
    _wait_window(page, grid, ",".join(str(p) for p in range(start, start + WINDOW)))
    assert_cells(grid, to_rgb(first.top_probs[..., 0], 0.0, 1.0, "viridis").tolist(), f"{front}: logit lens grid")
    root = page.locator(".lxw-root").first
    # the view's stylesheet reaches it (marimo renders widgets in a shadow root: js/core/pane.ts shareStyles)
    assert root.locator(".lxw-bar").first.evaluate("(b) => getComputedStyle(b).display") == "flex", f"{front}: unstyled view"
    root.screenshot(path=str(artifacts / f"frontend-{front}.png"))

    # a click on the model's own output after the last token (last row and column) lists its top tokens
    last = WINDOW - 1
    click_cell(page, grid, 30, last)
    detail = page.locator(".lxw-detail").first
    page.wait_for_function("([d, p]) => d.dataset.row === '30' && d.dataset.position === p",
                           arg=[detail.element_handle(), str(start + last)])
    listed = detail.locator(".lxw-detail-token").all_inner_texts()
    expected = [f"\u201c{display_token(str(text), 30)}\u201d" for text in first.top_text[30, last]]
    assert listed == expected, (front, listed, expected)

    # Export PNG: a custom message to Python, the figure's bytes back as a binary buffer
    with page.expect_download(timeout=60_000) as download:
        root.locator("button.lxw-export", has_text="PNG").click()
    path = download.value.path()
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, (front, download.value.suggested_filename, len(data))
    assert download.value.suggested_filename == f"logit-lens-{model.name}-tokens{start}-{start + last}.png", download.value.suggested_filename

    # the "earlier tokens" arrow: Python computes the earlier window and sends it
    root.locator("button.lxw-window-back").click()
    _wait_window(page, grid, ",".join(str(p) for p in range(moved, moved + WINDOW)))
    assert_cells(grid, to_rgb(second.top_probs[..., 0], 0.0, 1.0, "viridis").tolist(), f"{front}: moved window")
    assert not root.locator(".lxw-error:visible").count(), root.locator(".lxw-error").all_inner_texts()
    return moved


def check_quiet(watch: Watch, front: str, tolerated_offsite=()) -> None:
    assert watch.requests > 0
    unexpected = [u for u in watch.offsite if u not in tolerated_offsite]
    assert not unexpected, f"{front}: requests off the machine (aborted): {unexpected}"
    errors = watch.errors_after_load()
    assert not errors, f"{front}: console errors: {errors}"


# -- Jupyter Notebook 7 ------------------------------------------------------------------------

def test_notebook7(fresh_page, lens, artifacts, tmp_path):
    page = fresh_page
    port = _free_port()
    cmd = [
        sys.executable, "-m", "jupyter", "notebook", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={tmp_path / 'root'}",
        "--ServerApp.allow_root=True", "--JupyterNotebookApp.expose_app_in_browser=True",
    ]  # fmt: skip
    with serve(tmp_path, "jupyter notebook", cmd, "/api/status", port, lambda root: write_notebook(root, "frontends")) as server:
        watch = Watch(page)
        notebook = Notebook(page, "frontends")
        page.goto(f"{server.url}/notebooks/frontends.ipynb")
        page.wait_for_selector(Notebook.CELLS, state="attached", timeout=KERNEL_TIMEOUT)
        page.wait_for_function(_KERNEL_READY_JS, timeout=KERNEL_TIMEOUT)
        # Notebook 7.6's own page (also /tree, with no widget on it) throws once while loading its
        # keyboard shortcuts: tolerated before the view runs, only from Notebook's own bundle.
        for _, message, where in watch.errors:
            assert "/static/notebook/" in where, f"an error while Notebook 7 loaded: {message} at {where}"
        watch.phase = "view"
        cell = notebook.run(CODE + "\nview")
        moved = check_view(page, lens, artifacts, "notebook7")
        # Python has the window the arrow chose (the selection moved into it: its last position)
        out = notebook.run("print(view.window_start, view.selected)")
        assert Notebook.outputs(out).inner_text().split() == [str(moved), str(moved + WINDOW - 1)]
        # the static figure under the view is in the output but hidden where the view drew
        figure = cell.locator('img[alt^="llmxai-widgets figure"]')
        assert figure.count() == 1 and not figure.is_visible()
        check_quiet(watch, "notebook7")


# -- marimo ------------------------------------------------------------------------------------

MARIMO_APP = f'''import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    {CODE.replace(chr(10), chr(10) + "    ")}
    widget = mo.ui.anywidget(view)
    widget
    return


if __name__ == "__main__":
    app.run()
'''


def test_marimo(fresh_page, lens, artifacts, tmp_path):
    page = fresh_page
    port = _free_port()
    cmd = [str(BIN / "marimo"), "run", "app.py", "--headless", "--host", "127.0.0.1", "--port", str(port), "--no-token"]
    with serve(tmp_path, "marimo", cmd, "/health", port, lambda root: (root / "app.py").write_text(MARIMO_APP)) as server:
        watch = Watch(page)
        watch.phase = "view"  # marimo runs the app as the page opens
        page.goto(server.url)
        check_view(page, lens, artifacts, "marimo")
        check_quiet(watch, "marimo")


# -- Voila -------------------------------------------------------------------------------------

def _voila_template_urls() -> set[str]:
    """The absolute URLs written in Voila's lab page template (its Font Awesome stylesheets)."""
    template = Path(sys.prefix) / "share" / "jupyter" / "voila" / "templates" / "lab" / "index.html.j2"
    return set(re.findall(r'href="(https://[^"]+)"', template.read_text())) if template.exists() else set()


def test_voila(fresh_page, lens, artifacts, tmp_path):
    page = fresh_page
    port = _free_port()
    cmd = [
        str(BIN / "voila"), "frontends.ipynb", "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}",
        "--Voila.port_retries=0",
        # Notebook 7's JupyterLab extension is built for a newer JupyterLab than Voila's page: it
        # fails to load there (a console error) and Voila does not need it
        "--VoilaConfiguration.extension_denylist=@jupyter-notebook/lab-extension",
    ]  # fmt: skip
    with serve(tmp_path, "voila", cmd, "/voila/templates/lab/static/voila.js", port,
               lambda root: write_notebook(root, "frontends", [CODE + "\nview"])) as server:
        watch = Watch(page)
        watch.phase = "view"  # Voila runs the notebook as the page opens
        page.goto(server.url + "/")
        check_view(page, lens, artifacts, "voila")
        figure = page.locator('img[alt^="llmxai-widgets figure"]')
        assert figure.count() == 1 and not figure.is_visible()
        template = {urllib.parse.unquote(u) for u in _voila_template_urls()}
        tolerated = [u for u in watch.offsite if urllib.parse.unquote(u) in template]
        check_quiet(watch, "voila", tolerated)

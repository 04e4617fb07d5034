"""Real-browser fixtures: one JupyterLab server and one headless Chromium per test session.

The server runs from this interpreter (``sys.executable -m jupyter lab``) with every Jupyter
directory pointed at a temporary folder, in its own process session so teardown can stop it and
its kernels by killing the process group. Chromium is Debian's (``/usr/bin/chromium``); Playwright
never downloads a browser here.

``open_notebook(page, name)`` writes an empty notebook into the server root, opens it in
JupyterLab and waits for a live idle kernel; ``Notebook.run(code)`` types code into the last cell,
runs it and returns that cell's locator once its prompt reads ``[n]:``.
"""

from __future__ import annotations

import json
import shutil
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"

SERVER_START_TIMEOUT = 60.0
KERNEL_TIMEOUT = 60_000  # ms
CELL_TIMEOUT = 120_000  # ms


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items):
    """Every test in this folder drives the browser: marked ``browser``, skipped without Chromium."""
    here = Path(__file__).parent
    skip = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"browser tests need Debian's Chromium at {CHROMIUM}")
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_lab_settings(settings: Path) -> None:
    """Settings that keep the page quiet and every cell in the DOM."""
    overrides = {
        # No "receive Jupyter news?" toast over the notebook, no update checks (offline).
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        # Render every cell (no virtual scrolling that detaches off-screen cells).
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }
    for rel, value in overrides.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


class LabServer:
    def __init__(self, url: str, root: Path, log: Path):
        self.url, self.root, self.log = url, root, log

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no server log)"


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory) -> LabServer:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}")
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "root"
    root.mkdir()
    dirs = {
        name: base / name.lower()
        for name in (
            "JUPYTER_CONFIG_DIR",
            "JUPYTER_RUNTIME_DIR",
            "JUPYTER_DATA_DIR",
            "IPYTHONDIR",
            "JUPYTERLAB_SETTINGS_DIR",
            "JUPYTERLAB_WORKSPACES_DIR",
        )
    }
    for d in dirs.values():
        d.mkdir()
    _write_lab_settings(dirs["JUPYTERLAB_SETTINGS_DIR"])
    env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, "PYTHONUNBUFFERED": "1"}
    env.pop("JUPYTER_TOKEN", None)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = base / "server.log"
    cmd = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",  # the tests shut kernels down through the REST API
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True",
        "--LabServerApp.expose_app_in_browser=True",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = LabServer(url, root, log)
    _RUNNING.append(server)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {proc.returncode}:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not answer /api/status in {SERVER_START_TIMEOUT:.0f} s:\n{server.log_tail()}")
            time.sleep(0.25)
        yield server
    finally:
        _RUNNING.remove(server)
        _kill_group(proc)


_RUNNING: list[LabServer] = []


@pytest.fixture(scope="module", autouse=True)
def _kernels_end_with_their_module():
    """Shut down every kernel the module's notebooks started: a view still computing in a
    finished test's kernel would otherwise take CPU from every test after it."""
    yield
    for server in _RUNNING:
        try:
            with urllib.request.urlopen(f"{server.url}/api/kernels", timeout=5) as r:
                kernels = json.load(r)
            for kernel in kernels:
                request = urllib.request.Request(f"{server.url}/api/kernels/{kernel['id']}", method="DELETE")
                urllib.request.urlopen(request, timeout=10).close()
        except OSError as err:  # the next module still runs; say why kernels were left
            print(f"could not shut down the kernels of {server.url}: {err}")


def _kill_group(proc: subprocess.Popen) -> None:
    """Stop the server and its kernels: they all share the server's process group."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            # the server is gone; kernels may linger a moment in the group
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# -- notebooks ---------------------------------------------------------------------------------

_PROMPT_DONE = re.compile(r"^\[\d+\]:$")

_KERNEL_READY_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!kernel && kernel.connectionStatus === "connected" && kernel.status === "idle";
}"""


class Notebook:
    """An open JupyterLab notebook with a live kernel."""

    CELLS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell"

    def __init__(self, page, name: str):
        self.page, self.name = page, name
        self.dialogs: list[str] = []
        self.page_errors: list[str] = []
        page.on("dialog", self._on_dialog)
        page.on("pageerror", lambda err: self.page_errors.append(str(err)))

    def _on_dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    @property
    def cells(self):
        return self.page.locator(self.CELLS)

    def run(self, code: str, timeout: float = CELL_TIMEOUT):
        """Type ``code`` into the last cell, run it with Shift+Enter and wait for its ``[n]:`` prompt."""
        cells = self.cells
        index = cells.count() - 1
        cell = cells.nth(index)
        editor = cell.locator(".jp-InputArea-editor .cm-content")
        editor.click()
        # insert_text, not type(): CodeMirror would auto-indent typed newlines
        self.page.keyboard.insert_text(code)
        self.page.keyboard.press("Shift+Enter")
        prompt = cell.locator(".jp-InputArea-prompt")
        deadline = time.monotonic() + timeout / 1000
        while True:
            text = prompt.inner_text().strip().replace("\u00a0", "")
            if _PROMPT_DONE.match(text):
                return cell
            if time.monotonic() > deadline:
                raise TimeoutError(f"cell {index} still shows prompt {text!r} after {timeout / 1000:.0f} s:\n{code}")
            self.page.wait_for_timeout(100)

    @staticmethod
    def outputs(cell):
        return cell.locator(".jp-OutputArea-output")


def write_notebook(root: Path, name: str, cells: list[str] | None = None) -> Path:
    nb = {
        "cells": [
            {"id": f"cell-{i}", "cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": src}
            for i, src in enumerate(cells or [""])
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = root / f"{name}.ipynb"
    path.write_text(json.dumps(nb, indent=1))
    return path


def _open_notebook(page, server: LabServer, name: str, source: Path | None = None) -> Notebook:
    """Write an empty notebook ``name``.ipynb (or copy ``source``), open it in JupyterLab, wait
    for an idle kernel."""
    if source is None:
        write_notebook(server.root, name)
    else:
        shutil.copyfile(source, server.root / f"{name}.ipynb")
    notebook = Notebook(page, name)
    # A workspace per notebook: otherwise the server restores (and focuses) notebooks opened by
    # earlier test modules.
    page.goto(f"{server.url}/lab/workspaces/{name}/tree/{name}.ipynb")
    page.wait_for_selector(Notebook.CELLS, state="attached", timeout=KERNEL_TIMEOUT)
    try:
        page.wait_for_function(_KERNEL_READY_JS, timeout=KERNEL_TIMEOUT)
    except Exception as err:
        raise RuntimeError(f"no idle kernel for {name}.ipynb: {err}\nserver log:\n{server.log_tail()}") from err
    return notebook


@pytest.fixture(scope="module")
def lab_page(browser, lab_server):
    """A fresh browser context and page for one test module (large viewport, device pixel ratio 2)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def own_page(browser, request):
    """A page of its own for one test (large viewport, device pixel ratio 2, downloads allowed):
    leaving another test's notebook in lab_page would stop at "leave the page?". A module may
    set ``VIEWPORT`` (e.g. a taller one)."""
    viewport = getattr(request.module, "VIEWPORT", {"width": 1400, "height": 1000})
    context = browser.new_context(viewport=viewport, device_scale_factor=2, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def open_notebook(lab_server):
    """``open_notebook(page, name)``: a new notebook ``name``.ipynb open in ``page`` with an idle kernel."""
    return lambda page, name, source=None: _open_notebook(page, lab_server, name, source)

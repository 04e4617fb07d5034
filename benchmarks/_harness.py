"""Helpers for benchmarks/attention.py and attribution.py: text of an exact token length, child
processes with a timeout and a memory cap, a JupyterLab server, and bertviz's page in a bare
Chromium.

Run as a script it is one of the child processes (``python`` or ``page`` mode); each prints one
JSON line on stdout.
"""

from __future__ import annotations

import gc
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--enable-precise-memory-info"]
CELLS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell"
# What bertviz 1.4.1's HTML asks cdnjs for, and the npm package that holds each file.
# (jQuery 2.0.0 was never published to npm; 2.1.0 is the nearest release there.)
BERTVIZ_LIBS = {"require.min.js": ("requirejs@2.3.6", "package/require.js"),
                "d3.min.js": ("d3@5.7.0", "package/dist/d3.min.js"),
                "jquery.min.js": ("jquery@2.1.0", "package/dist/jquery.min.js")}
HERE = Path(__file__).resolve().parent

_WORDS = ("time year people way day man thing woman life child world school state family student "
          "group country problem hand part place case week company system program question work "
          "government number night point home water room mother area money story fact month lot "
          "right study book eye job word business issue side kind head house service friend father "
          "power hour game line end member law car city community name president team minute idea "
          "river garden window letter market music light table paper morning village teacher road").split()
_GLUE = ("the", "a", "of", "and", "to", "in", "with", "near", "from", "over", "under", "about")
_VERBS = ("sees", "finds", "keeps", "builds", "opens", "likes", "moves", "reads", "wants", "brings")


def make_text(tokenize, n: int, seed: int = 0) -> str:
    """Reproducible English-looking text of exactly ``n`` tokens (``tokenize(text)`` -> length)."""
    rng = random.Random(seed * 100_003 + n)
    words: list[str] = []

    def word() -> str:
        kind = len(words) % 6
        w = rng.choice(_GLUE if kind in (0, 3) else _VERBS if kind == 2 else _WORDS)
        return w + "." if len(words) % 12 == 11 else w

    def text(ws: list[str]) -> str:
        return " ".join(ws).rstrip(".") + "."

    def count(ws: list[str]) -> int:
        return tokenize(text(ws))

    while count(words) < n:  # overshoot in big steps, back off, then finish word by word
        for _ in range(32):
            words.append(word())
    while words and count(words) > n - 8:
        words.pop()
    while (c := count(words)) != n:
        for w in (word().rstrip("."), "a", "the", "and", "of"):
            if count([*words, w]) <= n:
                words.append(w)
                break
        else:
            if not words[-1].endswith("."):
                raise ValueError(f"could not make a text of exactly {n} tokens (seed {seed}); stuck at {c}")
            words[-1] = words[-1][:-1]  # "x. a." is two tokens more than "x.", "x a." one
    return text(words)


# -- child processes ---------------------------------------------------------------------------

def child_options(parser, *, timeout: float, mem_cap_gb: float = 12) -> None:
    """The options every per-case benchmark takes: threads, the per-case limits, and the hidden
    ``--child NAME TOKENS THREADS`` a case's fresh process is started with."""
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=timeout)
    parser.add_argument("--mem-cap-gb", type=float, default=mem_cap_gb)
    parser.add_argument("--child", nargs=3, help="(internal) run one case in this process")


def run_child(args: list[str], timeout: float, mem_cap_gb: float, script: str | Path | None = None) -> dict:
    """Run ``python _harness.py *args`` (or ``python script *args``); its last stdout line as
    JSON, or {"failed": why}.

    The child and everything it starts (Chromium) are killed when they pass ``timeout`` seconds or
    ``mem_cap_gb`` of resident memory together.
    """
    import psutil

    cmd = [sys.executable, str(script or HERE / "_harness.py"), *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True)
        root, start, peak, why = psutil.Process(proc.pid), time.monotonic(), 0, None
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in tree)
            except psutil.Error:
                rss, tree = 0, []
            peak = max(peak, rss)
            if rss > mem_cap_gb * 2**30:
                why = f"over the {mem_cap_gb:g} GB memory cap"
            elif time.monotonic() - start > timeout:
                why = f"did not finish in {timeout:g} s"
            if why:
                for p in reversed(tree):
                    try:
                        p.kill()
                    except psutil.Error:
                        pass
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
                return {"failed": why, "after_s": time.monotonic() - start}
            time.sleep(0.1)
        out.seek(0)
        lines = out.read().decode(errors="replace").strip().splitlines()
        if proc.returncode != 0 or not lines:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-3:]
            return {"failed": f"exit {proc.returncode}: {' | '.join(tail)}"}
        return json.loads(lines[-1])


def _status(key: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # "5" resets VmHWM (peak RSS) to the current RSS
        f.write("5")


def child_python(tool: str, text_file: str, threads: int, html_dir: str) -> dict:
    """Time and peak RSS of one tool's Python side on the text in ``text_file``."""
    import torch

    torch.set_num_threads(threads)
    import llmxai_widgets as lx

    model = lx.load_model()
    text = Path(text_file).read_text()
    warm = "A short warm-up sentence for the first forward pass."
    res: dict = {}
    if tool == "ours":
        from ipywidgets.widgets.widget import _remove_buffers

        lx.AttentionView(model, warm, background=False).close()
        gc.collect()
        res["rss_before"] = _status("VmRSS")
        _reset_peak()
        t0 = time.perf_counter()
        view = lx.AttentionView(model, text, background=False)
        res["python_s"] = time.perf_counter() - t0
        res["peak_rss"] = _status("VmHWM")
        state, _, buffers = _remove_buffers(view.get_state())
        res["state_bytes"] = len(json.dumps(state).encode()) + sum(len(b) for b in buffers)
        res["esm_bytes"] = len(state.get("_esm", "").encode())
        return res

    import bertviz

    model.model.set_attn_implementation("eager")

    def forward(t: str):
        ids = torch.as_tensor(model.tokenize(t).ids)[None]
        with torch.inference_mode():
            att = model.model(ids, output_attentions=True).attentions
        return att, model.tokenizer.convert_ids_to_tokens(ids[0].tolist())

    bertviz.model_view(*forward(warm), html_action="return")
    gc.collect()
    res["rss_before"] = _status("VmRSS")
    _reset_peak()
    t0 = time.perf_counter()
    attention, tokens = forward(text)
    t1 = time.perf_counter()
    html = bertviz.model_view(attention, tokens, html_action="return").data
    t2 = time.perf_counter()
    res.update(forward_s=t1 - t0, model_view_s=t2 - t1, python_s=t2 - t0, peak_rss=_status("VmHWM"))
    res["model_bytes"] = len(html.encode())
    if html_dir:
        Path(html_dir, "model_view.html").write_text(html)
    del html
    gc.collect()
    _reset_peak()
    t2 = time.perf_counter()
    html = bertviz.head_view(attention, tokens, html_action="return").data
    res["head_view_s"] = time.perf_counter() - t2
    res["head_python_s"] = t1 - t0 + res["head_view_s"]
    res["head_peak_rss"] = _status("VmHWM")
    res["head_bytes"] = len(html.encode())
    if html_dir:
        Path(html_dir, "head_view.html").write_text(html)
    return res


# -- bertviz in a bare Chromium page -----------------------------------------------------------

_WATCH_JS = """(() => {
  window.__bv = {dom: null, paint: null, failed: []};
  const check = () => {
    if (window.__bv.dom === null && document.querySelector('#vis svg line')) {
      window.__bv.dom = performance.now();  // bertviz draws its whole SVG in one task
      requestAnimationFrame(() => requestAnimationFrame(() => { window.__bv.paint = performance.now(); }));
    }
  };
  new MutationObserver(check).observe(document, {childList: true, subtree: true});
  window.addEventListener('error', e => window.__bv.failed.push(String(
    (e.target && (e.target.src || e.target.href)) || e.message)), true);
})();"""


def bertviz_libs(cache: Path, fetch: bool) -> Path | None:
    """A folder with the three files bertviz loads from cdnjs, taken from npm packages (cached)."""
    if all((cache / name).exists() for name in BERTVIZ_LIBS):
        return cache
    if not fetch:
        return None
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        specs = [spec for spec, _ in BERTVIZ_LIBS.values()]
        r = subprocess.run(["npm", "pack", *specs, "--pack-destination", tmp], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"npm pack failed: {r.stderr.strip()[-300:]}", file=sys.stderr)
            return None
        for name, (spec, member) in BERTVIZ_LIBS.items():
            tgz = Path(tmp, spec.replace("@", "-") + ".tgz")
            with tarfile.open(tgz) as tar:
                (cache / name).write_bytes(tar.extractfile(member).read())
    return cache


def page_metrics(cdp) -> dict:
    """JS heap in use and DOM node count after a full garbage collection (CDP Performance.getMetrics)."""
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {"heap": int(metrics["JSHeapUsedSize"]), "nodes": int(metrics["Nodes"])}


def child_page(html_file: str, libs: str, timeout: float) -> dict:
    """Load a bertviz HTML file; time from navigation start to its SVG in the DOM and painted."""
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []

    def route(r):
        url = r.request.url
        name = url.rsplit("/", 1)[-1]
        if url.startswith("file://"):
            return r.continue_()
        if libs and name in BERTVIZ_LIBS:
            return r.fulfill(path=str(Path(libs, name)), content_type="text/javascript")
        blocked.append(url)  # nothing leaves this machine: the request fails as it would offline
        return r.abort("internetdisconnected")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.route("**/*", route)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.goto("about:blank")
        before = page_metrics(cdp)
        page.add_init_script(_WATCH_JS)
        page.goto(Path(html_file).resolve().as_uri(), wait_until="commit", timeout=timeout * 1000)
        try:
            page.wait_for_function("() => window.__bv && (window.__bv.paint !== null || window.__bv.failed.length > 0)",
                                   timeout=timeout * 1000, polling=100)
        except Exception:
            return {"failed": f"did not finish in {timeout:g} s", "blocked": blocked}
        bv = page.evaluate("() => window.__bv")
        if bv["paint"] is None:
            return {"failed": "never drew: " + "; ".join(bv["failed"]), "blocked": blocked}
        after = page_metrics(cdp)
        res = {"dom_s": bv["dom"] / 1000, "paint_s": bv["paint"] / 1000, "heap": after["heap"] - before["heap"],
               "nodes": after["nodes"] - before["nodes"], "blocked": blocked}
        browser.close()
        return res


# -- JupyterLab ----------------------------------------------------------------------------------

_KERNEL_READY_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === "connected" && k.status === "idle";
}"""


class Lab:
    """A JupyterLab server on 127.0.0.1 with every Jupyter folder in a temporary directory."""

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="lxw-bench-"))
        self.root = self.tmp / "root"
        self.root.mkdir()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("JUPYTER_TOKEN", None)
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR",
                     "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
            (self.tmp / name.lower()).mkdir()
            env[name] = str(self.tmp / name.lower())
        settings = self.tmp / "jupyterlab_settings_dir"
        for rel, value in {"@jupyterlab/apputils-extension/notification.jupyterlab-settings":
                           {"fetchNews": "false", "checkForUpdates": False},
                           "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"}}.items():
            (settings / rel).parent.mkdir(parents=True, exist_ok=True)
            (settings / rel).write_text(json.dumps(value))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
               "--ServerApp.password=", f"--ServerApp.root_dir={self.root}", "--ServerApp.allow_root=True",
               "--LabServerApp.expose_app_in_browser=True"]
        self.log = open(self.tmp / "server.log", "wb")
        self.proc = subprocess.Popen(cmd, env=env, cwd=self.root, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"JupyterLab did not start; log in {self.tmp / 'server.log'}")
                time.sleep(0.25)

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
            os.killpg(self.proc.pid, signal.SIGKILL)  # kernels left in the group
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def open(self, page, name: str, timeout_ms: int = 60_000) -> None:
        nb = {"cells": [{"id": "c0", "cell_type": "code", "execution_count": None, "metadata": {},
                         "outputs": [], "source": ""}],
              "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                          "language": "python"}},
              "nbformat": 4, "nbformat_minor": 5}
        (self.root / f"{name}.ipynb").write_text(json.dumps(nb))
        page.goto(f"{self.url}/lab/workspaces/{name}/tree/{name}.ipynb")
        page.wait_for_selector(CELLS, state="attached", timeout=timeout_ms)
        page.wait_for_function(_KERNEL_READY_JS, timeout=timeout_ms)


def type_cell(page, code: str):
    """Put ``code`` into the last cell (not run); returns that cell's locator."""
    cells = page.locator(CELLS)
    cell = cells.nth(cells.count() - 1)  # fixed index: after Shift+Enter `.last` is the new cell
    cell.locator(".jp-InputArea-editor .cm-content").click()
    page.keyboard.insert_text(code)
    return cell


def wait_done(page, cell, timeout: float) -> str:
    """Wait for ``cell``'s prompt to read ``[n]:``; returns its output text."""
    deadline = time.monotonic() + timeout
    prompt = cell.locator(".jp-InputArea-prompt")
    while not prompt.inner_text().strip().replace("\u00a0", "")[1:-2].isdigit():
        if time.monotonic() > deadline:
            raise TimeoutError(f"cell did not finish in {timeout:g} s")
        page.wait_for_timeout(50)
    return cell.locator(".jp-OutputArea").inner_text()


def run_cell(page, code: str, timeout: float = 120) -> str:
    cell = type_cell(page, code)
    page.keyboard.press("Shift+Enter")
    return wait_done(page, cell, timeout)


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    if mode == "python":
        out = child_python(rest[0], rest[1], int(rest[2]), rest[3] if len(rest) > 3 else "")
    elif mode == "page":
        out = child_page(rest[0], rest[1], float(rest[2]))
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(out))

"""AttentionView against bertviz on the bundled SmolLM2 (30 layers x 9 heads), same inputs, in
headless Chromium.

    .venv/bin/python benchmarks/attention.py [--tokens 16 64 256 1024] [--repeats 3] [--threads 1]
        [--timeout 120] [--py-timeout 900] [--mem-cap-gb 10] [--offline]
    .venv/bin/python benchmarks/attention.py --tokens 4096      # ours only above --bertviz-max

Texts are reproducible English-like word salad of exactly N tokens (seeded). Each measurement runs
A B A B (ours, bertviz, ours, ...) and the table shows medians; "ratio" rows are ours / bertviz
model_view. torch runs with --threads threads everywhere (child processes and the kernel).

Sizes are binary (KB = 2**10 bytes, GB = 2**30 bytes). A case that passes --timeout seconds or
whose processes pass --mem-cap-gb of resident memory is killed and reported as such; bertviz is
not tried at a size once it failed at a smaller one.

Columns
  bytes     ours: every kernel->browser websocket frame on the kernel channel (Playwright
            framereceived payloads), from Shift+Enter on the view's cell until the computation
            has ended, including the Jupyter protocol messages of that cell and of a follow-up
            `v.wait()` cell (the "protocol overhead" note gives their size without a widget).
            bertviz: len(HTML) of model_view/head_view(html_action="return").data, UTF-8; this
            is what a notebook output would carry (its d3/jQuery/require.js, ~400 KB, come on top
            from a CDN).
  state     ours: the widget's full state (JSON + binary buffers, with the view's JS bundle, `_esm`).
  py s      Python time to compute, fresh process, after a warm-up pass on a short text.
            ours: AttentionView(model, text, background=False) (all layers + first slice).
            bertviz: forward with eager attention and output_attentions + model_view (head_view).
  py peak   peak resident memory of that process during the computation (VmHWM reset after
            loading the model, so it includes the ~0.85-0.95 GB of model, torch and Python).
  py extra  py peak minus the resident memory just before the computation: what it adds.
  draw s    time to the first picture. ours: Shift+Enter in JupyterLab -> `.lxw-root
            canvas[data-layer]` in the cell, two animation frames later (painted); includes the
            Python computation up to the first streamed layer. bertviz: py s + "page s", a lower
            bound (it leaves out moving the HTML through a notebook).
  page s    bertviz only: loading its HTML file in a bare Chromium page (navigation start) ->
            `#vis svg line` exist, two animation frames later. CDN requests are answered from
            local copies of the same libraries (npm packages, cached under ~/.cache); with
            --offline they fail, as they do on a machine without internet.
  JS heap   growth of the page's V8 heap after a forced GC (CDP Performance.getMetrics
            JSHeapUsedSize), ours: before the cell -> after the computation ended; bertviz:
            about:blank -> drawn page.
  nodes     growth of the DOM node count (same metric source).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import CHROMIUM, CHROMIUM_ARGS, Lab, bertviz_libs, make_text, page_metrics, run_cell, run_child, type_cell, wait_done  # noqa: E402

TOOLS = ("ours", "bertviz model_view", "bertviz head_view")
COLUMNS = ("bytes", "state", "py_s", "py_peak", "py_extra", "draw_s", "page_s", "heap", "nodes")
ARM_JS = """(sel) => {
  const cells = document.querySelectorAll(sel), cell = cells[cells.length - 1];
  const r = window.__lxw = {t0: null, dom: null, paint: null};
  document.addEventListener('keydown', e => { if (e.key === 'Enter' && e.shiftKey && r.t0 === null) r.t0 = performance.now(); }, {capture: true});
  const obs = new MutationObserver(() => {
    if (r.dom === null && cell.querySelector('.lxw-root canvas[data-layer]')) {
      r.dom = performance.now(); obs.disconnect();
      requestAnimationFrame(() => requestAnimationFrame(() => { r.paint = performance.now(); }));
    }
  });
  obs.observe(cell, {childList: true, subtree: true, attributes: true, attributeFilter: ['data-layer']});
}"""
SETUP = """import gc, json, torch
torch.set_num_threads({threads})
import llmxai_widgets
from llmxai_widgets import AttentionView
from ipywidgets.widgets.widget import _remove_buffers
model = llmxai_widgets.load_model()
TEXTS = {{int(k): t for k, t in json.load(open("texts.json")).items()}}
AttentionView(model, "A short warm-up sentence for the first forward pass.", background=False).close()
def _state_bytes(w):
    s, _, b = _remove_buffers(w.get_state())
    return len(json.dumps(s).encode()) + sum(len(x) for x in b)
v = None
"""
WAIT = 'v.wait()\nprint("LXW", json.dumps({"state": _state_bytes(v), "status": v.status}))'


def python_phase(args, sizes, texts_dir: Path, html_root: Path, results) -> None:
    rows = {"ours": ("ours",), "bertviz": TOOLS[1:]}
    failed: dict[str, str] = {}  # tool -> why: larger sizes are skipped
    for n in sizes:
        for tool in ("ours", "bertviz"):
            if tool == "bertviz" and n > args.bertviz_max:
                failed_rows(results[n], rows[tool], f"not run above {args.bertviz_max} tokens")
            elif tool in failed:
                failed_rows(results[n], rows[tool], f"skipped: python failed at fewer tokens ({failed[tool]})")
        for r in range(args.repeats):
            for tool in ("ours", "bertviz"):
                if "failed" in results[n][rows[tool][0]]:
                    continue
                html_dir = html_root / str(n) if tool == "bertviz" and r == 0 else None
                if html_dir:
                    html_dir.mkdir(parents=True, exist_ok=True)
                cmd = ["python", tool, str(texts_dir / f"{n}.txt"), str(args.threads), str(html_dir or "")]
                res = run_child(cmd, args.py_timeout, args.mem_cap_gb)
                print(f"  python {tool:7} {n:5} tokens #{r + 1}: {short(res)}", flush=True)
                if "failed" in res:
                    failed[tool] = res["failed"]
                    after = f" (after {res['after_s']:.0f} s)" if "after_s" in res else ""
                    failed_rows(results[n], rows[tool], f"python: {res['failed']}{after}")
                elif tool == "ours":
                    add(results[n]["ours"], state=res["state_bytes"], py_s=res["python_s"], py_peak=res["peak_rss"],
                        py_extra=res["peak_rss"] - res["rss_before"])
                else:
                    add(results[n][TOOLS[1]], bytes=res["model_bytes"], py_s=res["python_s"], py_peak=res["peak_rss"],
                        py_extra=res["peak_rss"] - res["rss_before"])
                    add(results[n][TOOLS[2]], bytes=res["head_bytes"], py_s=res["head_python_s"], py_peak=res["head_peak_rss"],
                        py_extra=res["head_peak_rss"] - res["rss_before"])


def failed_rows(result: dict, tools, why: str) -> None:
    for tool in tools:
        result[tool].setdefault("failed", why)


def ours_case(page, cdp, frames, n: int, timeout: float) -> dict:
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    run_cell(page, "if v is not None: v.close()\nv = None\ngc.collect()")
    before = page_metrics(cdp)
    cell = type_cell(page, f"v = AttentionView(model, TEXTS[{n}])\nv")
    page.evaluate(ARM_JS, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell")
    frames.clear()
    page.keyboard.press("Shift+Enter")
    try:
        page.wait_for_function("() => window.__lxw.paint !== null", timeout=timeout * 1000, polling=50)
    except Exception:
        run_cell(page, "v.cancel(); v.wait()", timeout)
        return {"failed": f"did not finish in {timeout:g} s"}
    times = page.evaluate("() => window.__lxw")
    wait_done(page, cell, timeout)
    out = run_cell(page, WAIT, timeout)
    info = json.loads(out.split("LXW", 1)[1].strip().splitlines()[0])
    after = page_metrics(cdp)
    return {"bytes": sum(frames), "draw_s": (times["paint"] - times["t0"]) / 1000, "status": info["status"],
            "heap": after["heap"] - before["heap"], "nodes": after["nodes"] - before["nodes"]}


def browser_phase(args, sizes, texts: dict, html_root: Path, libs, results, notes) -> None:
    from playwright.sync_api import sync_playwright

    lab = Lab()
    try:
        (lab.root / "texts.json").write_text(json.dumps(texts))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            # nothing but the local server: a request elsewhere fails as it would offline
            context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(lab.url) else r.abort())
            page = context.new_page()
            page.set_default_timeout(60_000)
            frames: list[int] = []
            page.on("websocket", lambda ws: "/api/kernels/" in ws.url and ws.on(
                "framereceived", lambda p: frames.append(len(p) if isinstance(p, bytes) else len(p.encode()))))
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            lab.open(page, "bench")
            run_cell(page, SETUP.format(threads=args.threads), 300)
            frames.clear()  # protocol overhead of the two cells without any widget
            run_cell(page, "w = None\nw")
            run_cell(page, WAIT.replace("v.wait()", "w").replace("_state_bytes(v)", "0").replace("v.status", "0"))
            notes.append(f"protocol overhead of the two cells without a widget: {fmt_bytes(sum(frames))}")
            gave_up = set()
            for n in sizes:
                for r in range(args.repeats):
                    for tool in TOOLS:
                        row = results[n][tool]
                        if tool in gave_up:
                            row.setdefault("failed", "skipped: did not draw at fewer tokens")
                        if "failed" in row:
                            continue
                        if tool == "ours":
                            res = ours_case(page, cdp, frames, n, args.timeout)
                        else:
                            html = html_root / str(n) / f"{tool.split()[1]}.html"
                            res = run_child(["page", str(html), str(libs or ""), str(args.timeout)],
                                            args.timeout + 60, args.mem_cap_gb)
                            if "paint_s" in res:
                                res["draw_s"] = statistics.median(row["py_s"]) + res["paint_s"]
                                res["page_s"] = res["paint_s"]
                        print(f"  browser {tool:18} {n:5} tokens #{r + 1}: {short(res)}", flush=True)
                        if "failed" in res:
                            after = f" (after {res['after_s']:.0f} s)" if "after_s" in res else ""
                            row["failed"] = f"browser: {res['failed']}{after}"
                            gave_up.add(tool)
                        else:
                            add(row, **{k: res[k] for k in COLUMNS if k in res})
            browser.close()
    finally:
        lab.stop()


def add(row: dict, **values) -> None:
    for k, v in values.items():
        row.setdefault(k, []).append(v)


def short(res: dict) -> str:
    keys = ("failed", "python_s", "peak_rss", "model_bytes", "bytes", "draw_s", "paint_s", "heap")
    return ", ".join(f"{k}={res[k]:.3g}" if isinstance(res[k], float) else f"{k}={res[k]}" for k in keys if k in res)


def fmt_bytes(b: float) -> str:
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if abs(b) >= size:
            return f"{b / size:.3g} {unit}" if abs(b) < 1000 * size else f"{b / size:.0f} {unit}"
    return f"{b:.0f} B"


def cell(row: dict, key: str) -> str:
    if not row.get(key):
        return "-"
    m = statistics.median(row[key])
    return fmt_bytes(m) if key in ("bytes", "state", "py_peak", "py_extra", "heap") else f"{m:.0f}" if key == "nodes" else f"{m:.2f}"


def med(row: dict, key: str):
    return statistics.median(row[key]) if row.get(key) else None


def print_table(sizes, results, notes, args) -> None:
    head = f"{'tokens':>6}  {'tool':20}" + "".join(f"{c:>10}" for c in COLUMNS)
    print("\n" + head + "\n" + "-" * len(head))
    for n in sizes:
        for tool in TOOLS:
            row = results[n][tool]
            if tool != "ours" and n > args.bertviz_max:
                continue
            print(f"{n:>6}  {tool:20}" + "".join(f"{cell(row, c):>10}" for c in COLUMNS))
            if "failed" in row:
                print(f"{'':28}^ {row['failed']}")
        ours, base = results[n]["ours"], results[n]["bertviz model_view"]
        ratios = [f"{med(ours, c) / med(base, c):.3g}x" if med(ours, c) and med(base, c) else "-" for c in COLUMNS]
        if any(base.get(c) for c in COLUMNS):
            print(f"{n:>6}  {'ratio ours/model_view':20}" + "".join(f"{x:>10}" for x in ratios))
    print("\nTargets")
    for n in sizes:
        ours, base = med(results[n]["ours"], "bytes"), med(results[n]["bertviz model_view"], "bytes")
        if ours and base:
            ok = "PASS" if ours <= base / 10 else "FAIL"
            print(f"  bytes at most 1/10 of bertviz, {n} tokens: {fmt_bytes(ours)} vs {fmt_bytes(base)} -> {ours / base:.2g}x {ok}")
    for n, key, limit, what in ((1024, "draw_s", 2.0, "first draw within 2 s at 1,024 tokens"),
                                (4096, "py_peak", 2 * 2**30, "Python peak memory under 2 GB at 4,096 tokens"),
                                (8192, "py_peak", 3 * 2**30, "Python peak memory under 3 GB at 8,192 tokens (the whole context)")):
        value = med(results[n]["ours"], key) if n in results else None
        fail = results.get(n, {}).get("ours", {}).get("failed")
        shown = "not run" if n not in results else fail if value is None else \
            (f"{value:.2f} s" if key == "draw_s" else fmt_bytes(value)) + (" PASS" if value <= limit else " FAIL")
        print(f"  {what}: {shown}")
    for note in notes:
        print(f"  note: {note}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", type=int, nargs="+", default=[16, 64, 256, 1024])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads (two shared cores here)")
    p.add_argument("--timeout", type=float, default=120, help="seconds per browser case")
    p.add_argument("--py-timeout", type=float, default=900, help="seconds per Python case")
    p.add_argument("--mem-cap-gb", type=float, default=10, help="kill a case whose processes pass this RSS")
    p.add_argument("--bertviz-max", type=int, default=1024, help="run bertviz only up to this many tokens")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--offline", action="store_true", help="no local d3/require.js for bertviz (it cannot draw)")
    args = p.parse_args()
    sizes = sorted(set(args.tokens))

    import llmxai_widgets

    model = llmxai_widgets.load_model()
    texts = {n: make_text(lambda t: len(model.tokenize(t)), n, args.seed) for n in sizes}
    del model
    results = {n: {tool: {} for tool in TOOLS} for n in sizes}
    notes: list[str] = []
    libs = None if args.offline else bertviz_libs(Path.home() / ".cache/llmxai_widgets-bench/bertviz-js", fetch=True)
    with tempfile.TemporaryDirectory(prefix="lxw-attn-") as tmp:
        tmp = Path(tmp)
        for n, text in texts.items():
            (tmp / f"{n}.txt").write_text(text)
        print(f"Python phase ({args.repeats} runs per tool and size, {args.threads} torch thread(s))", flush=True)
        python_phase(args, sizes, tmp, tmp / "html", results)
        first = tmp / "html" / str(sizes[0]) / "model_view.html"
        if first.exists():  # what bertviz does with no internet
            res = run_child(["page", str(first), "", "30"], 90, args.mem_cap_gb)
            notes.append("bertviz with its CDN requests failing (offline): " + res.get("failed", "it drew anyway"))
        if libs:
            notes.append(f"bertviz drew with local copies of require.js 2.3.6, d3 5.7.0, jQuery 2.1.0 from {libs}")
        print("Browser phase", flush=True)
        browser_phase(args, sizes, texts, tmp / "html", libs, results, notes)
    print_table(sizes, results, notes, args)


if __name__ == "__main__":
    main()

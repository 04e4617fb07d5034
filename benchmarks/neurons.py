"""NeuronView against the same activations sent as JSON lists, in a real JupyterLab page.

    .venv/bin/python benchmarks/neurons.py [--tokens 64 1024] [--repeats 2] [--threads 1]
        [--json-max-mb 100] [--timeout 240]

For each size, SmolLM2's MLP activations of a reproducible text of exactly N tokens, all 30
layers (1,536 neurons each), go to the browser two ways, run interleaved (A B A B) in one kernel:

  ours        NeuronView(model, text): the forward pass streams layers; the browser gets the
              selected layer's [token, neuron] slice only, float16 in a binary buffer.
  ours, all   then every layer viewed once from Python (v.layer = 0..29): the whole 30-layer
  layers      tensor, one binary slice at a time (what a person paging through layers costs).
  JSON, 1 / 30  a minimal anywidget (the CircuitsVis / ecco approach) whose trait is
  layers      activations.tolist() ([layer][token][neuron] nested lists, JSON), drawing the first
              layer on a canvas: the same forward pass (lx.neurons, all layers), then 1 layer or
              all 30 layers as JSON. A JSON message over --json-max-mb (default 100: browsers fail
              silently above ~105 MB of string) is not sent; its size is 30 x the 1-layer case.

Columns
  bytes    every kernel->browser websocket frame on the kernel channel (Playwright framereceived
           payloads), from Shift+Enter until the computation ended and the view drew, including
           the Jupyter protocol messages of the cell and a follow-up cell (see the note).
  draw s   Shift+Enter -> the view's canvas in the cell, two animation frames later (painted).
           Ours draws the first layer while later layers still compute; JSON draws after the
           whole list arrived and was parsed.
  done s   ours: Shift+Enter -> the kernel marked the computation ready (all 30 layers; its clock).
Medians over --repeats runs; ratios are ours / JSON. Playwright attached to the page slows big
websocket transfers (ENVIRONMENT.md: 2-4x), for both tools alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import CHROMIUM, CHROMIUM_ARGS, Lab, make_text, run_cell, type_cell, wait_done  # noqa: E402

CASES = ("ours", "ours, all layers", "JSON, 1 layer", "JSON, 30 layers")
SETUP = r'''import gc, json, time, torch, anywidget, traitlets
torch.set_num_threads({threads})
import llmxai_widgets as lx
model = lx.load_model()
TEXTS = {int(k): t for k, t in json.load(open("texts.json")).items()}
lx.neurons(model, "A short warm-up sentence for the first forward pass.")

class TimedView(lx.NeuronView):
    @traitlets.observe("status")
    def _ended(self, change):
        if change["new"] in ("ready", "cancelled", "error"):
            self.t_done = time.time()

class JsonNeurons(anywidget.AnyWidget):
    """What CircuitsVis/ecco-style tools do: the activations as a JSON list trait."""
    _esm = """export default { render({ model, el }) {
      const canvas = document.createElement('canvas'); canvas.className = 'json-neurons'; el.appendChild(canvas);
      const draw = () => {
        const acts = model.get('activations'); if (!acts.length) return;
        const layer = acts[0], rows = layer.length, cols = layer[0].length;
        let m = 0; for (const r of layer) for (const v of r) m = Math.max(m, Math.abs(v));
        canvas.width = cols; canvas.height = rows;
        const img = new ImageData(cols, rows);
        layer.forEach((r, i) => r.forEach((v, j) => { const t = Math.min(1, Math.abs(v) / (m || 1)), o = 4 * (i * cols + j);
          img.data[o] = v > 0 ? 255 : 255 * (1 - t); img.data[o + 1] = 255 * (1 - t); img.data[o + 2] = v < 0 ? 255 : 255 * (1 - t);
          img.data[o + 3] = 255; }));
        canvas.getContext('2d').putImageData(img, 0, 0); canvas.dataset.drawn = '1';
      };
      model.on('change:activations', draw); draw();
    } };"""
    activations = traitlets.List().tag(sync=True)

v = w = None
'''
ARM_JS = """([sel, target]) => {
  const cells = document.querySelectorAll(sel), cell = cells[cells.length - 1];
  const r = window.__lxw = {t0: null, dom: null, paint: null};
  document.addEventListener('keydown', e => { if (e.key === 'Enter' && e.shiftKey && r.t0 === null) r.t0 = performance.now(); }, {capture: true});
  const obs = new MutationObserver(() => {
    if (r.dom === null && cell.querySelector(target)) {
      r.dom = performance.now(); obs.disconnect();
      requestAnimationFrame(() => requestAnimationFrame(() => { r.paint = performance.now(); }));
    }
  });
  obs.observe(cell, {childList: true, subtree: true, attributes: true, attributeFilter: ['data-layer', 'data-drawn']});
}"""
CELLS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell"


def fresh(page) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    run_cell(page, "for x in (v, w):\n    x is not None and x.close()\nv = w = None\ngc.collect()")


def timed(page, frames, code: str, target: str, timeout: float) -> dict:
    """Run ``code`` (its last line displays a view) and time Shift+Enter -> ``target`` painted."""
    cell = type_cell(page, code)
    page.evaluate(ARM_JS, [CELLS, target])
    frames.clear()
    page.keyboard.press("Shift+Enter")
    try:
        page.wait_for_function("() => window.__lxw.paint !== null", timeout=timeout * 1000, polling=50)
    except Exception:
        return {"failed": f"did not draw in {timeout:g} s"}
    times = page.evaluate("() => window.__lxw")
    wait_done(page, cell, timeout)
    return {"draw_s": (times["paint"] - times["t0"]) / 1000}


def ours(page, frames, n: int, timeout: float) -> tuple[dict, dict]:
    fresh(page)
    res = timed(page, frames, f"t0 = time.time()\nv = TimedView(model, TEXTS[{n}])\nv", ".lxw-heat canvas[data-layer]", timeout)
    if "failed" in res:
        return res, {"failed": "ours did not draw"}
    out = run_cell(page, 'v.wait()\nprint("LXW", json.dumps({"done": v.t_done - t0, "status": v.status, '
                   '"slice": sum(len(v.layer_slice[k]["data"]) for k in ("activations", "top", "order")), '
                   '"esm": len(str(v._esm)), "static": sum(len(x) for x in v._static_bundle().values())}))', timeout)
    info = json.loads(out.split("LXW", 1)[1].strip().splitlines()[0])
    res.update(bytes=sum(frames), done_s=info["done"], slice=info["slice"], esm=info["esm"], static=info["static"])
    frames.clear()
    t = page.evaluate("() => performance.now()")
    run_cell(page, "for layer in range(30):\n    v.layer = layer", timeout)
    page.wait_for_function("() => [...document.querySelectorAll('.lxw-heat canvas[data-layer]')].pop().dataset.layer === '29'",
                           timeout=timeout * 1000, polling=50)
    all_layers = {"bytes": res["bytes"] + sum(frames), "draw_s": (page.evaluate("() => performance.now()") - t) / 1000}
    return res, all_layers


def json_case(page, frames, n: int, layers: int, timeout: float) -> dict:
    fresh(page)
    code = (f"r = lx.neurons(model, TEXTS[{n}])\n"
            f"w = JsonNeurons(activations=r.activations[:{layers}].tolist())\nw")
    res = timed(page, frames, code, "canvas.json-neurons[data-drawn]", timeout)
    run_cell(page, "print(w is not None)", timeout)
    res["bytes"] = sum(frames)
    return res


def fmt_bytes(b: float) -> str:
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if abs(b) >= size:
            return f"{b / size:.3g} {unit}"
    return f"{b:.0f} B"


def med(row: dict, key: str):
    return statistics.median(row[key]) if row.get(key) else None


def show(row: dict, key: str) -> str:
    m = med(row, key)
    return "-" if m is None else fmt_bytes(m) if key == "bytes" else f"{m:.2f}"


def print_table(results: dict, notes: list[str]) -> None:
    head = f"{'tokens':>6}  {'case':18}{'bytes':>11}{'draw s':>9}{'done s':>9}"
    print("\n" + head + "\n" + "-" * len(head))
    for n, rows in results.items():
        for case in CASES:
            row = rows[case]
            print(f"{n:>6}  {case:18}{show(row, 'bytes'):>11}{show(row, 'draw_s'):>9}{show(row, 'done_s'):>9}")
            if "note" in row:
                print(f"{'':26}^ {row['note']}")
            if case == "ours" and row.get("slice"):
                print(f"{'':26}^ of which: the layer's slice {fmt_bytes(med(row, 'slice'))} (binary), the JS bundle "
                      f"{fmt_bytes(med(row, 'esm'))}, the static figure {fmt_bytes(med(row, 'static'))} "
                      "(a PNG, base64, in image/png and text/html)")
        for a, b in (("ours", "JSON, 1 layer"), ("ours", "JSON, 30 layers"), ("ours, all layers", "JSON, 30 layers")):
            parts = []
            for key, what in (("bytes", "bytes"), ("draw_s", "time to first draw")):
                x, y = med(rows[a], key), med(rows[b], key)
                if x and y and not (key == "draw_s" and "draw_s" in rows[b].get("estimated", ())):
                    parts.append(f"{what} {x / y:.3g}x ({y / x:.3g}x fewer)" if key == "bytes" else f"{what} {x / y:.3g}x")
            if parts:
                print(f"{'':8}{a} / {b}: " + ", ".join(parts))
    for note in notes:
        print(f"  note: {note}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", type=int, nargs="+", default=[64, 1024])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="torch threads (two shared cores here)")
    p.add_argument("--json-max-mb", type=float, default=100, help="do not send a JSON message larger than this")
    p.add_argument("--timeout", type=float, default=240, help="seconds per case")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    sizes = sorted(set(args.tokens))

    import llmxai_widgets as lx
    from playwright.sync_api import sync_playwright

    model = lx.load_model()
    texts = {n: make_text(lambda t: len(model.tokenize(t)), n, args.seed) for n in sizes}
    del model
    results = {n: {case: {} for case in CASES} for n in sizes}
    notes: list[str] = []
    lab = Lab()
    try:
        (lab.root / "texts.json").write_text(json.dumps(texts))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(lab.url) else r.abort())
            page = context.new_page()
            page.set_default_timeout(args.timeout * 1000)
            frames: list[int] = []
            page.on("websocket", lambda ws: "/api/kernels/" in ws.url and ws.on(
                "framereceived", lambda f: frames.append(len(f) if isinstance(f, bytes) else len(f.encode()))))
            lab.open(page, "bench")
            run_cell(page, SETUP.replace("{threads}", str(args.threads)), 300)
            frames.clear()
            run_cell(page, "x = None\nx")
            run_cell(page, "print(None)")
            notes.append(f"Jupyter protocol messages of two cells without a view: {fmt_bytes(sum(frames))} (in every bytes figure)")
            for n in sizes:
                for r in range(args.repeats):
                    first, every = ours(page, frames, n, args.timeout)
                    for case, res in (("ours", first), ("ours, all layers", every)):
                        print(f"  {n:5} tokens #{r + 1} {case:18} {res}", flush=True)
                        for k, value in res.items():
                            results[n][case].setdefault(k, []).append(value)
                    one = json_case(page, frames, n, 1, args.timeout)
                    print(f"  {n:5} tokens #{r + 1} {'JSON, 1 layer':18} {one}", flush=True)
                    for k, value in one.items():
                        results[n]["JSON, 1 layer"].setdefault(k, []).append(value)
                    row = results[n]["JSON, 30 layers"]
                    estimate = 30 * one.get("bytes", 0)
                    if estimate > args.json_max_mb * 2**20:
                        row.setdefault("bytes", []).append(estimate)
                        row["estimated"] = ("bytes", "draw_s")
                        row["note"] = (f"not sent: ~{fmt_bytes(estimate)} of JSON (30 x the 1-layer case) is over "
                                       f"--json-max-mb {args.json_max_mb:g}; browsers drop a string over ~105 MB silently")
                        continue
                    res = json_case(page, frames, n, 30, args.timeout)
                    print(f"  {n:5} tokens #{r + 1} {'JSON, 30 layers':18} {res}", flush=True)
                    for k, value in res.items():
                        row.setdefault(k, []).append(value)
            browser.close()
    finally:
        lab.stop()
    print_table(results, notes)


if __name__ == "__main__":
    main()

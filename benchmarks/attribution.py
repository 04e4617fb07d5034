"""attribute() against Captum and inseq on the bundled SmolLM2 (135M, 30 layers), same inputs,
same targets, CPU.

    .venv/bin/python benchmarks/attribution.py [--tokens 16 64 256] [--generate 0 10] [--repeats 3]
        [--methods saliency input_x_gradient integrated_gradients occlusion] [--tools ours captum inseq]
        [--threads 1] [--ig-max-positions 256] [--occlusion-max-positions 640] [--timeout 1800]
        [--mem-cap-gb 10]
    .venv/bin/python benchmarks/attribution.py --quick     # 16 and 64 tokens, one repeat, small IG
                                                           # and occlusion cases

Prompts are reproducible English-like word salad of exactly N tokens (seeded, `make_text` in
_harness.py). "--generate 0" explains the model's greedy next token, "--generate 10" each of 10
greedily generated tokens (every tool generates them itself, and that time counts). The function
explained is the target's log-probability in every tool.

Every measurement is a fresh process (model loaded, tool imported and set up, then one warm-up
call of the same tool and method on a short sentence, not timed). Each case runs A B A B (ours,
Captum, inseq, ours, ...) and the table shows medians; "ours/x" is ours' time over the tool's.
torch runs with --threads threads. A run that passes --timeout seconds or --mem-cap-gb of
resident memory is killed and reported; that tool is then not tried at a larger size.
Integrated gradients is skipped where prompt tokens x targets exceeds --ig-max-positions (each
target costs 50 forward and backward passes: hours on one thread for 256 tokens x 10), occlusion
where it exceeds --occlusion-max-positions (FeatureAblation runs a prefix once per token per
target: ~45 minutes for 256 tokens x 10).

Tools
  ours    llmxai_widgets.attribute(model, prompt, generate=G, method=M, **options); options:
          integrated_gradients n_steps=50 rule="gausslegendre" baseline=0 batch=25; occlusion
          its defaults (token level, replace by the baseline token, batch 16).
  captum  as a Captum user writes it: generate the targets with model.generate, then one call per
          target on the prefix up to it, forward function log p(target | prefix) at the last
          position. saliency: LayerGradientXActivation(multiply_by_inputs=False) on the embedding
          layer, L2 norm over the embedding; input_x_gradient: LayerGradientXActivation, summed;
          integrated_gradients: LayerIntegratedGradients, baselines token 0, n_steps=50,
          gausslegendre, internal_batch_size=25 (our settings), summed; occlusion: FeatureAblation
          with one feature per token, baseline = the token our occlusion uses (Captum's default
          perturbations_per_eval=1; it runs under no_grad).
  inseq   inseq.load_model(model, M, tokenizer=tok).attribute(prompt, generation_args={
          "max_new_tokens": max(G, 1)}, attributed_fn="probability", logprob=True) (IG: n_steps=50,
          internal_batch_size=25, Captum's default rule gausslegendre; its baseline is the unk
          token's embedding, id 0 here, as ours). Its raw per-dimension scores (no aggregation or
          normalisation) are reduced as ours: L2 norm for saliency (inseq's is |gradient|), sum
          for the others. inseq has no per-token occlusion (its "occlusion" slides windows over
          embedding dimensions).

Columns
  time s    wall time of the one call (generation included), median over repeats.
  ours/x    ours' median time / this tool's (below 1: ours is faster; 0.25 = 4x faster).
  fwd       model forward calls outside generation, and the token positions they ran
            (batch x length, summed); "fwd s" their time (with autograd recording where any).
  bwd       torch.autograd.grad calls (Captum and ours take every gradient with it) and their time.
  gen s     time inside model.generate.
  peak MB   peak resident memory of the process during the call (VmHWM reset just before it);
            "extra MB" that minus the resident memory just before (model, torch, tool loaded).

Agreement (first repeat): for every target both tools explain (same token, same position), the
largest |ours - theirs| over the largest |theirs| of that row, worst row shown; PASS at 1e-3.
"corr" is the Pearson correlation of all scores of the case.

Targets: 10-token generation with gradient methods >= 4x faster than inseq; occlusion at 64
tokens >= 5x faster than Captum's FeatureAblation; integrated gradients at equal settings >= 1.5x
faster than Captum with no more peak memory.

Integrated gradients' time to accuracy (n_steps="auto" against the Captum step count that gets the
completeness error under 5%, per rule) and its time to the first streamed row are measured by
benchmarks/ig_accuracy.py, also run as `python benchmarks/attribution.py --ig-accuracy [its options]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import _reset_peak, _status, make_text, run_child  # noqa: E402

HERE = Path(__file__).resolve()
METHODS = ("saliency", "input_x_gradient", "integrated_gradients", "occlusion")
GRADIENT = ("saliency", "input_x_gradient", "integrated_gradients")
TOOLS = ("ours", "captum", "inseq")
IG = {"n_steps": 50, "rule": "gausslegendre", "baseline": 0, "batch": 25}
WARM = "A short warm-up sentence for the first forward pass."
TOL = 1e-3


# -- child process: one tool, one method, one case ---------------------------------------------

class Meter:
    """Counts and times the model's forward calls (outside generation), torch.autograd.grad calls
    and model.generate."""

    def __init__(self, model):
        import torch

        self.reset()
        self.in_gen = False
        self._t0 = []

        def pre(mod, args, kwargs):
            if not self.in_gen:
                x = kwargs.get("input_ids")
                if x is None:
                    x = kwargs.get("inputs_embeds")
                if x is None and args:
                    x = args[0]
                self.fwd_calls += 1
                self.fwd_tokens += int(x.shape[0] * x.shape[1]) if x is not None and x.dim() >= 2 else 0
                self._t0.append(time.perf_counter())

        def post(mod, args, kwargs, out):
            if not self.in_gen and self._t0:
                self.fwd_s += time.perf_counter() - self._t0.pop()

        model.register_forward_pre_hook(pre, with_kwargs=True)
        model.register_forward_hook(post, with_kwargs=True)
        grad = torch.autograd.grad

        def timed_grad(*a, **k):
            t = time.perf_counter()
            try:
                return grad(*a, **k)
            finally:
                self.bwd_s += time.perf_counter() - t
                self.bwd_calls += 1

        torch.autograd.grad = timed_grad
        generate = model.generate

        def timed_generate(*a, **k):
            t, self.in_gen = time.perf_counter(), True
            try:
                return generate(*a, **k)
            finally:
                self.in_gen = False
                self.gen_s += time.perf_counter() - t

        model.generate = timed_generate

    def reset(self):
        self.fwd_calls = self.fwd_tokens = self.bwd_calls = 0
        self.fwd_s = self.bwd_s = self.gen_s = 0.0

    def dump(self) -> dict:
        return {"fwd_calls": self.fwd_calls, "fwd_tokens": self.fwd_tokens, "fwd_s": self.fwd_s,
                "bwd_calls": self.bwd_calls, "bwd_s": self.bwd_s, "gen_s": self.gen_s}


def tool_ours(m, method: str, baseline_id: int):
    import llmxai_widgets as lx

    options = IG if method == "integrated_gradients" else {}

    def run(text: str, g: int):
        res = lx.attribute(m, text, generate=g, method=method, **options)
        targets = [int(res.tokens.ids[t]) for t in res.target_positions]
        return res.n_prompt, targets, [res.row(i).tolist() for i in range(len(targets))]

    return run


def tool_captum(m, method: str, baseline_id: int):
    import torch
    from captum.attr import FeatureAblation, LayerGradientXActivation, LayerIntegratedGradients

    emb = m.model.get_input_embeddings()

    def run(text: str, g: int):
        ids = torch.as_tensor(m.tokenize(text).ids)[None]
        with torch.no_grad():
            full = m.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max(g, 1),
                                    do_sample=False)
        n = ids.shape[1]
        targets, rows = [], []
        for t in range(n, full.shape[1]):
            prefix, target = full[:, :t], int(full[0, t])
            targets.append(target)

            def f(x, target=target):
                return torch.log_softmax(m.model(input_ids=x).logits[:, -1].float(), dim=-1)[:, target]

            if method == "saliency":
                row = LayerGradientXActivation(f, emb, multiply_by_inputs=False).attribute(prefix)[0].norm(dim=-1)
            elif method == "input_x_gradient":
                row = LayerGradientXActivation(f, emb).attribute(prefix)[0].sum(-1)
            elif method == "integrated_gradients":
                row = LayerIntegratedGradients(f, emb).attribute(
                    prefix, baselines=torch.zeros_like(prefix), n_steps=IG["n_steps"], method=IG["rule"],
                    internal_batch_size=IG["batch"])[0].sum(-1)
            else:
                row = FeatureAblation(f).attribute(prefix, baselines=baseline_id,
                                                   feature_mask=torch.arange(t)[None])[0]
            rows.append(row.detach().float().tolist())
        return n, targets, rows

    return run


def tool_inseq(m, method: str, baseline_id: int):
    import inseq

    model = inseq.load_model(m.model, method, tokenizer=m.tokenizer)
    # inseq.attribute's own `method` argument shadows Captum's; Captum's default is gausslegendre
    assert IG["rule"] == "gausslegendre"
    args = {"n_steps": IG["n_steps"], "internal_batch_size": IG["batch"]} if method == "integrated_gradients" else {}

    def run(text: str, g: int):
        out = model.attribute(text, generation_args={"max_new_tokens": max(g, 1), "do_sample": False},
                              attributed_fn="probability", logprob=True, show_progress=False, **args)
        sa = out.sequence_attributions[0]
        n = len(sa.source)
        ids = [int(tok.id) for tok in sa.target]
        raw = sa.target_attributions  # [positions, targets, embedding]
        rows = []
        for i in range(len(ids) - n):
            block = raw[: n + i, i].float()
            rows.append((block.norm(dim=-1) if method == "saliency" else block.sum(-1)).tolist())
        return n, ids[n:], rows

    return run


def child(tool: str, method: str, n: int, g: int, threads: int, text_file: str, baseline_id: int) -> dict:
    import ctypes

    import torch

    torch.set_num_threads(threads)
    import llmxai_widgets as lx

    m = lx.load_model()
    text = json.loads(Path(text_file).read_text())[str(n)]
    meter = Meter(m.model)
    t0 = time.perf_counter()
    run = {"ours": tool_ours, "captum": tool_captum, "inseq": tool_inseq}[tool](m, method, baseline_id)
    setup_s = time.perf_counter() - t0
    run(WARM, 1)
    meter.reset()
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    res: dict = {"setup_s": setup_s, "rss_before": _status("VmRSS")}
    _reset_peak()
    t0 = time.perf_counter()
    n_prompt, targets, rows = run(text, g)
    res["time_s"] = time.perf_counter() - t0
    res["peak_rss"] = _status("VmHWM")
    res.update(meter.dump())
    res.update(n_prompt=n_prompt, targets=targets, rows=rows,
               target_text=m.tokenizer.decode(targets))
    return res


# -- parent --------------------------------------------------------------------------------------

def med(runs: list[dict], key: str):
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else None


def agreement(a: dict, b: dict) -> dict:
    """Worst-row max |a - b| / max |b| over the targets both explain at the same position."""
    import numpy as np

    if a["n_prompt"] != b["n_prompt"]:
        return {"note": f"prompt lengths differ ({a['n_prompt']} vs {b['n_prompt']})"}
    same = 0
    for ta, tb in zip(a["targets"], b["targets"]):
        if ta != tb:
            break
        same += 1
    worst, xs, ys = 0.0, [], []
    for i in range(same):
        x = np.asarray(a["rows"][i], np.float64)
        y = np.asarray(b["rows"][i], np.float64)
        if x.shape != y.shape:
            return {"note": f"row {i}: {x.shape} vs {y.shape} scores"}
        scale = np.abs(y).max()
        worst = max(worst, float(np.abs(x - y).max() / scale) if scale > 0 else float(np.abs(x).max()))
        xs.append(x)
        ys.append(y)
    if not same:
        return {"note": "first targets differ", "same": 0, "of": max(len(a["targets"]), len(b["targets"]))}
    x, y = np.concatenate(xs), np.concatenate(ys)
    corr = float(np.corrcoef(x, y)[0, 1]) if x.size > 1 and x.std() > 0 and y.std() > 0 else float("nan")
    return {"rel": worst, "corr": corr, "same": same, "of": max(len(a["targets"]), len(b["targets"]))}


def fmt(v, spec: str, none: str = "-") -> str:
    return none if v is None else format(v, spec)


def main() -> None:
    if "--ig-accuracy" in sys.argv:  # integrated gradients' time to accuracy: benchmarks/ig_accuracy.py
        sys.argv.remove("--ig-accuracy")
        subprocess.run([sys.executable, str(Path(__file__).with_name("ig_accuracy.py")), *sys.argv[1:]], check=True)
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, nargs="+", default=[16, 64, 256])
    p.add_argument("--generate", type=int, nargs="+", default=[0, 10])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ig-max-positions", type=int, default=256,
                   help="skip integrated gradients where prompt tokens x targets is above this")
    p.add_argument("--occlusion-max-positions", type=int, default=640,
                   help="skip occlusion where prompt tokens x targets is above this")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per run (fresh process)")
    p.add_argument("--mem-cap-gb", type=float, default=10)
    p.add_argument("--quick", action="store_true",
                   help="--tokens 16 64 --repeats 1 --ig-max-positions 64 --occlusion-max-positions 64")
    p.add_argument("--child", nargs=7, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        tool, method, n, g, threads, text_file, base = a.child
        print(json.dumps(child(tool, method, int(n), int(g), int(threads), text_file, int(base))))
        return
    if a.quick:
        a.tokens, a.repeats, a.ig_max_positions, a.occlusion_max_positions = [16, 64], 1, 64, 64

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    import importlib.metadata as md

    import torch

    torch.set_num_threads(a.threads)
    import llmxai_widgets as lx
    from llmxai_widgets.methods.attribution import ATTRIBUTION_METHODS, prepare

    versions = {k: md.version(k) for k in ("torch", "transformers", "captum")}
    notes = []
    try:
        import inseq  # noqa: F401

        versions["inseq"] = md.version("inseq")
    except Exception as err:  # noqa: BLE001
        versions["inseq"] = f"not usable ({type(err).__name__}: {err})"
        if "inseq" in a.tools:
            a.tools.remove("inseq")
            notes.append(f"inseq left out: import inseq fails: {type(err).__name__}: {err}")
    if "occlusion" in a.methods and "occlusion" not in ATTRIBUTION_METHODS:
        a.methods.remove("occlusion")
        notes.append("occlusion left out: it is not a registered attribution method in this checkout")

    m = lx.load_model()
    texts = {n: make_text(lambda t: len(m.tokenize(t).ids), n) for n in a.tokens}
    baseline_id = 0
    if "occlusion" in a.methods:
        from llmxai_widgets.methods.attribution.perturbation import resolve_baseline

        baseline_id = resolve_baseline(prepare(m, "Hello", target=" world")[0], None)
    del m
    gc.collect()

    print(f"# attribution: ours vs Captum vs inseq, SmolLM2-135M, CPU, {a.threads} torch thread(s)")
    print("# " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    if "occlusion" in a.methods:
        print(f"# occlusion / FeatureAblation baseline token id: {baseline_id}")
    if "integrated_gradients" in a.methods:
        print(f"# integrated gradients: {IG}")
    for note in notes:
        print(f"# note: {note}")
    tmp = Path(tempfile.mkdtemp(prefix="lxw-attr-"))
    text_file = tmp / "texts.json"
    text_file.write_text(json.dumps({str(k): v for k, v in texts.items()}))

    cases = []
    for method in a.methods:
        for g in a.generate:
            for n in sorted(a.tokens):
                tools = [t for t in a.tools if not (t == "inseq" and method == "occlusion")]
                cap = {"integrated_gradients": a.ig_max_positions, "occlusion": a.occlusion_max_positions}.get(method)
                skip = cap is not None and n * max(g, 1) > cap
                cases.append({"method": method, "g": g, "n": n, "tools": tools, "skip": skip})

    results: dict[tuple, dict[str, list[dict]]] = {}
    failed: dict[tuple, str] = {}  # (method, g, tool) -> why, at the smallest size
    started = time.monotonic()
    for c in cases:
        key = (c["method"], c["g"], c["n"])
        results[key] = {t: [] for t in c["tools"]}
        if c["skip"]:
            continue
        for rep in range(a.repeats):
            for tool in c["tools"]:
                if (c["method"], c["g"], tool) in failed:
                    continue
                t0 = time.monotonic()
                r = run_child(["--child", tool, c["method"], str(c["n"]), str(c["g"]), str(a.threads), str(text_file),
                               str(baseline_id)], a.timeout, a.mem_cap_gb, script=HERE)
                r["wall_s"] = time.monotonic() - t0
                results[key][tool].append(r)
                label = f"{c['method']} n={c['n']} gen={c['g']} {tool} #{rep + 1}"
                if "failed" in r:
                    failed[(c["method"], c["g"], tool)] = f"{r['failed']} at {c['n']} tokens"
                    print(f"  {label}: FAILED {r['failed']}", file=sys.stderr, flush=True)
                else:
                    print(f"  {label}: {r['time_s']:.2f} s (process {r['wall_s']:.0f} s)", file=sys.stderr, flush=True)

    # -- timings ------------------------------------------------------------------------------
    head = (f"{'method':<20} {'tok':>4} {'gen':>3} {'tool':<7} {'time s':>8} {'ours/x':>7} {'fwd':>4} "
            f"{'fwd pos':>8} {'fwd s':>7} {'bwd':>4} {'bwd s':>7} {'gen s':>6} {'peak MB':>8} {'extra MB':>8}")
    print("\nTimings (medians of fresh-process runs)\n" + head + "\n" + "-" * len(head))
    MB = 2**20
    for c in cases:
        key = (c["method"], c["g"], c["n"])
        if c["skip"]:
            flag = "--ig-max-positions" if c["method"] == "integrated_gradients" else "--occlusion-max-positions"
            print(f"{c['method']:<20} {c['n']:>4} {c['g']:>3} (skipped: {c['n']} tokens x {max(c['g'], 1)} targets "
                  f"is above {flag})")
            continue
        ours_t = med([r for r in results[key].get("ours", []) if "failed" not in r], "time_s")
        for tool in c["tools"]:
            runs = results[key][tool]
            ok = [r for r in runs if "failed" not in r]
            if not ok:
                why = runs[0]["failed"] if runs else failed.get((c["method"], c["g"], tool), "not run")
                print(f"{c['method']:<20} {c['n']:>4} {c['g']:>3} {tool:<7} {'FAILED: ' + why}")
                continue
            t = med(ok, "time_s")
            ratio = ours_t / t if ours_t and tool != "ours" else None
            peak, before = med(ok, "peak_rss"), med(ok, "rss_before")
            print(f"{c['method']:<20} {c['n']:>4} {c['g']:>3} {tool:<7} {t:>8.2f} {fmt(ratio, '7.3f'):>7} "
                  f"{med(ok, 'fwd_calls'):>4.0f} {med(ok, 'fwd_tokens'):>8.0f} {med(ok, 'fwd_s'):>7.2f} "
                  f"{med(ok, 'bwd_calls'):>4.0f} {med(ok, 'bwd_s'):>7.2f} {med(ok, 'gen_s'):>6.2f} "
                  f"{peak / MB:>8.0f} {(peak - before) / MB:>8.0f}")

    # -- agreement ----------------------------------------------------------------------------
    print("\nAgreement (first repeat; rel = worst row's max |ours - theirs| / max |theirs|, PASS <= 1e-3)")
    head = f"{'method':<20} {'tok':>4} {'gen':>3} {'vs':<7} {'targets':>8} {'rel':>10} {'corr':>8}  verdict"
    print(head + "\n" + "-" * len(head))
    agree_fail = []
    for c in cases:
        key = (c["method"], c["g"], c["n"])
        if c["skip"]:
            continue
        first = {t: next((r for r in results[key][t] if "failed" not in r), None) for t in c["tools"]}
        if first.get("ours") is None:
            continue
        for tool in c["tools"]:
            if tool == "ours" or first[tool] is None:
                continue
            ag = agreement(first["ours"], first[tool])
            prefix = f"{c['method']:<20} {c['n']:>4} {c['g']:>3} {tool:<7}"
            if "rel" not in ag:
                print(f"{prefix} {ag.get('note')}")
                continue
            verdict = "PASS" if ag["rel"] <= TOL else "FAIL"
            if ag["same"] < ag["of"]:
                verdict += f" (only the first {ag['same']} targets are the same tokens)"
            if ag["rel"] > TOL:
                agree_fail.append(f"{c['method']} {c['n']} tok gen {c['g']} vs {tool}: {ag['rel']:.2e}")
            print(f"{prefix} {ag['same']:>3}/{ag['of']:<4} {ag['rel']:>10.2e} {ag['corr']:>8.5f}  {verdict}")
    texts_shown = set()
    for c in cases:
        key = (c["method"], c["g"], c["n"])
        for tool, runs in results.get(key, {}).items():
            r = next((r for r in runs if "failed" not in r), None)
            if r and c["g"] and (c["n"], tool) not in texts_shown:
                texts_shown.add((c["n"], tool))
                print(f"  {c['n']} tokens, {tool} generated: {r['target_text']!r}")

    # -- targets ------------------------------------------------------------------------------
    print("\nTargets")

    def speed(method, g, n, tool):
        key = (method, g, n)
        if key not in results or tool not in results[key]:
            return None
        ours = med([r for r in results[key].get("ours", []) if "failed" not in r], "time_s")
        theirs = [r for r in results[key][tool] if "failed" not in r]
        if ours is None or not theirs:
            return None
        return med(theirs, "time_s") / ours

    def line(ok, text):
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")

    for method in [x for x in a.methods if x in GRADIENT]:
        for n in sorted(a.tokens):
            if 10 not in a.generate:
                continue
            s = speed(method, 10, n, "inseq")
            if s is not None:
                line(s >= 4, f"{method}, {n} tokens, 10 generated: {s:.2f}x faster than inseq (target >= 4x)")
            elif "inseq" in a.tools:
                print(f"  n/a   {method}, {n} tokens, 10 generated vs inseq: not measured")
    if "occlusion" in a.methods:
        for g in a.generate:
            s = speed("occlusion", g, 64, "captum")
            if s is not None:
                line(s >= 5, f"occlusion, 64 tokens, gen {g}: {s:.2f}x faster than Captum FeatureAblation (target >= 5x)")
            elif 64 in a.tokens:
                print(f"  n/a   occlusion, 64 tokens, gen {g} vs Captum: not measured")
    if "integrated_gradients" in a.methods:
        for g in a.generate:
            for n in sorted(a.tokens):
                key = ("integrated_gradients", g, n)
                s = speed(*key, "captum")
                if s is None:
                    continue
                ours = [r for r in results[key]["ours"] if "failed" not in r]
                theirs = [r for r in results[key]["captum"] if "failed" not in r]
                po, pc = med(ours, "peak_rss") / MB, med(theirs, "peak_rss") / MB
                line(s >= 1.5 and po <= pc, f"integrated gradients, {n} tokens, gen {g}: {s:.2f}x faster than Captum "
                     f"(target >= 1.5x), peak {po:.0f} MB vs {pc:.0f} MB (target: no more)")
    line(not agree_fail, "agreement within 1e-3 of the largest score where the tools compute the same thing"
         + ("" if not agree_fail else ": " + "; ".join(agree_fail)))
    print(f"\n(total {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()

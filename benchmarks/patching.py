"""Activation patching and causal tracing on the bundled SmolLM2 (135M, 30 layers, 9 query heads
over 3 key/value heads), CPU: ours against TransformerLens's patching functions and against
ROME's causal-tracing loop, same weights, same cells.

    .venv/bin/python benchmarks/patching.py [--repeats 2] [--threads 1] [--samples 3]
        [--parts patch trace] [--timeout 1800] [--mem-cap-gb 10]
    .venv/bin/python benchmarks/patching.py --quick     # one repeat

Every measurement is a fresh process (model loaded, the tool set up, one untimed warm-up call of
the same tool on a shorter prompt), run A B A B (ours, theirs, ours, theirs); tables show medians.
torch runs with --threads threads.

Patching (the full grid): clean "The Eiffel Tower is a very famous old landmark that is located
in the city of" against corrupt "The Colosseum ..." (17 tokens each, tokens 1-3 differ), metric
logit(" Paris") - logit(" Rome") at the last token, denoising, normalised
(m - m_corrupt) / (m_clean - m_corrupt). Cells: residual stream after each block, attention
output and MLP output, each per layer x token (30 x 17 each), every query head's output at all
tokens (30 x 9), every key/value head's keys and values at all tokens (30 x 3).

  ours  lx.patch(model, clean, corrupt, metric="logit_diff", answers=(" Paris", " Rome")), all
        sites. It first computes attribution patching's estimate of the whole grid (one forward
        and one backward pass), then the exact rows layer by layer: batched runs that start at
        the patched block (blocks below are skipped and their output taken from the cached
        corrupted run), reuse the keys and values of the tokens before the patch, and project
        only the last position on the vocabulary.
  tl    TransformerLens 4 (its TransformerBridge over a deep copy of the same transformers model,
        built offline with TransformerBridge.boot_transformers(name, hf_model=..., tokenizer=...);
        raw weights, no processing): run_with_cache on both prompts, then its own functions,
        one full forward pass per cell: get_act_patch_resid_pre for layers 1-29 plus
        generic_activation_patch("resid_post", layer_pos_patch_setter) for layer 29 (our residual
        row L is the stream after block L = TL's resid_pre of block L + 1), get_act_patch_attn_out,
        get_act_patch_mlp_out, get_act_patch_attn_head_out_all_pos, and for key/value heads
        run_with_hooks with hook_k and hook_v patched together (layer_head_vector_patch_setter).

Causal tracing (a smaller setting): lx.causal_trace(model, "The Eiffel Tower is located in the
city of", "Eiffel Tower", " Paris", samples=--samples, kinds="residual") against ROME's
algorithm (Meng et al. 2022, trace_with_patch / trace_important_states) as its per-cell loop on
the same transformers model: for every layer and every token one forward pass of a batch of
samples + 1 (row 0 clean, the rest with Gaussian noise on the subject's embeddings), the clean
row's hidden state after the block copied into the noisy rows at that token, p(target) at the
last position averaged over the noisy rows; plus ROME's unpatched noisy run. Both use our noise
draw (3 x the embeddings' standard deviation, seed 1) so the values can be compared.

Columns
  time s     wall time of the call (setup and warm-up excluded), median over repeats.
  fwd        model forward calls: ours counts its recording runs (2 for patching, plus the one
             with autograd for the estimate) and its batched patched runs; theirs one per cell
             plus the unpatched runs.
  rows       sequences run (batch rows summed); "tok rows" tokens run (batch x length; ours'
             patched runs run only the tokens after the reused prefix); "blk-tok" tokens x
             blocks actually computed; "logit rows" positions projected on the vocabulary.
  GFLOP      2 x parameters x tokens per block and per logit position, plus attention scores
             (4 x tokens x context x width); ours' autograd run counted as 3 forward passes.
  first pic  ours: the estimate ready (end of the estimate step) / the first on_layer callback
             (when a view shows the first picture: the estimate with layer 0 exact).

Targets: the full patching grid >= 4x faster than TransformerLens at equal values (max |ours -
theirs| <= 1e-4 of the normalised metric); the first picture under 2 s. The FLOP lines say how
much of the speed-up the arithmetic allows (layers skipped below the patch, prefix tokens
reused, logits only at the last position) and how much of that cap was reached.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import _reset_peak, _status, run_child  # noqa: E402

HERE = Path(__file__).resolve()
CLEAN = "The Eiffel Tower is a very famous old landmark that is located in the city of"
CORRUPT = "The Colosseum is a very famous old landmark that is located in the city of"
ANSWERS = (" Paris", " Rome")
WARM_CLEAN = "The Eiffel Tower is in the city of"
WARM_CORRUPT = "The Colosseum is in the city of"
TRACE_PROMPT = "The Eiffel Tower is located in the city of"
TRACE_SUBJECT = "Eiffel Tower"
TRACE_TARGET = " Paris"
WARM_TRACE = ("The Colosseum is in the city of", "Colosseum", " Rome")
SITES = ("residual", "attention", "mlp", "heads", "kv_heads")
TOL = 1e-4
TOOLS = {"patch": ("ours", "tl"), "trace": ("ours", "rome")}


# -- counting ------------------------------------------------------------------------------------

class Tally:
    """Forward passes, rows, tokens, block-tokens and logit rows, and a FLOP estimate."""

    def __init__(self, model):
        hf = model.model
        layer0 = model.layers()[0]
        self.block_params = sum(p.numel() for p in layer0.parameters())
        self.head_params = hf.get_output_embeddings().weight.numel()
        self.width = model.n_heads * (model.config.hidden_size // model.n_heads)
        self.n_layers = model.n_layers
        self.reset()

    def reset(self):
        self.calls = self.rows = self.tokens = self.block_tokens = self.logit_rows = 0
        self.flops = 0.0

    def add(self, rows: int, tail: int, context: int, blocks: int, logit_rows: int, factor: float = 1.0):
        self.calls += 1
        self.rows += rows
        self.tokens += rows * tail
        self.block_tokens += rows * tail * blocks
        self.logit_rows += logit_rows
        per_token_block = 2 * self.block_params + 4 * context * self.width
        self.flops += factor * (rows * tail * blocks * per_token_block + logit_rows * 2 * self.head_params)

    def full_pass(self, rows: int, n: int, all_logits: bool = True):
        self.add(rows, n, n, self.n_layers, rows * (n if all_logits else 1))

    def dump(self) -> dict:
        return {"fwd": self.calls, "rows": self.rows, "tok_rows": self.tokens, "blk_tok": self.block_tokens,
                "logit_rows": self.logit_rows, "gflop": self.flops / 1e9}


def count_ours(model, tally: Tally) -> None:
    """Wrap the engine's two entry points (every forward pass ours makes goes through them)."""
    from llmxai_widgets.methods.locate import engine

    record, run_patched = engine.record, engine.run_patched

    def counted_record(m, ids, **kwargs):
        n = ids.shape[1]
        tally.add(ids.shape[0], n, n, m.n_layers, ids.shape[0], factor=3.0 if kwargs.get("grad") else 1.0)
        return record(m, ids, **kwargs)

    def counted_run(m, ids, start, hidden, patches=(), past=None):
        rows, tail = hidden.shape[0], hidden.shape[1]
        tally.add(rows, tail, len(ids), m.n_layers - start, rows)
        return run_patched(m, ids, start, hidden, patches, past)

    engine.record, engine.run_patched = counted_record, counted_run


# -- child processes -----------------------------------------------------------------------------

def _setup(threads: int):
    import torch

    torch.set_num_threads(threads)
    import llmxai_widgets as lx

    return torch, lx, lx.load_model()


def _timed(res: dict, fn):
    gc.collect()
    res["rss_before"] = _status("VmRSS")
    _reset_peak()
    t0 = time.perf_counter()
    out = fn(t0)
    res["time_s"] = time.perf_counter() - t0
    res["peak_rss"] = _status("VmHWM")
    return out


def child_patch_ours(threads: int) -> dict:
    torch, lx, m = _setup(threads)
    from llmxai_widgets.methods.locate import patching

    lx.patch(m, WARM_CLEAN, WARM_CORRUPT, answers=ANSWERS, sites="residual")
    tally = Tally(m)
    count_ours(m, tally)
    res: dict = {}
    estimate = patching._estimate

    def timed_estimate(*args, **kwargs):
        out = estimate(*args, **kwargs)
        res.setdefault("estimate_s", time.perf_counter() - res["_t0"])
        return out

    patching._estimate = timed_estimate

    def on_layer(layer, result):
        res.setdefault("first_picture_s", time.perf_counter() - res["_t0"])

    def run(t0):
        res["_t0"] = t0
        return lx.patch(m, CLEAN, CORRUPT, answers=ANSWERS, on_layer=on_layer)

    result = _timed(res, run)
    del res["_t0"]
    res.update(tally.dump())
    res.update(scores={k: v.tolist() for k, v in result.scores.items()}, m_clean=result.clean_metric,
               m_corrupt=result.corrupted_metric, n_tokens=len(result.clean), first_difference=result.first_difference,
               clean_tokens=list(result.clean.text), corrupt_tokens=list(result.corrupt.text),
               estimate_max_err={k: float(abs(result.estimate[k] - result.scores[k]).max()) for k in result.estimate})
    return res


def boot_bridge(m):
    """TransformerLens's bridge over a deep copy of the loaded model (the bridge edits the model it
    gets: eager attention, its own submodules); nothing is fetched from the hub."""
    import copy

    from transformer_lens.model_bridge import TransformerBridge

    hf = copy.deepcopy(m.model).eval()
    bridge = TransformerBridge.boot_transformers("HuggingFaceTB/SmolLM2-135M", hf_model=hf,
                                                 tokenizer=copy.deepcopy(m.tokenizer), device="cpu")
    return bridge.eval()


def tl_patch_all(bridge, tlp, torch, clean_ids, corrupt_ids, answer_ids):
    """The full grid with TransformerLens's patching functions (denoising). Returns
    (scores, m_clean, m_corrupt)."""
    import pandas as pd
    from functools import partial

    a, b = answer_ids
    raw = lambda logits: logits[0, -1, a] - logits[0, -1, b]  # noqa: E731
    clean_logits, clean_cache = bridge.run_with_cache(clean_ids)
    corrupt_logits, _ = bridge.run_with_cache(corrupt_ids)
    m_clean, m_corrupt = float(raw(clean_logits)), float(raw(corrupt_logits))
    metric = lambda logits: (raw(logits) - m_corrupt) / (m_clean - m_corrupt)  # noqa: E731
    n_layers, n_tokens = bridge.cfg.n_layers, clean_ids.shape[1]
    n_heads = bridge.cfg.n_heads
    n_kv = bridge.cfg.n_key_value_heads or n_heads

    def grid(fn, layers, n_cells):
        df = pd.DataFrame([(l, c) for l in layers for c in range(n_cells)], columns=["layer", "pos"])
        return fn(bridge, corrupt_ids, clean_cache, metric, index_axis_names=None, index_df=df).reshape(len(layers), n_cells)

    post = partial(tlp.generic_activation_patch, patch_setter=tlp.layer_pos_patch_setter, activation_name="resid_post")
    scores = {
        "residual": torch.cat([grid(tlp.get_act_patch_resid_pre, range(1, n_layers), n_tokens),
                               grid(post, [n_layers - 1], n_tokens)]),
        "attention": tlp.get_act_patch_attn_out(bridge, corrupt_ids, clean_cache, metric),
        "mlp": tlp.get_act_patch_mlp_out(bridge, corrupt_ids, clean_cache, metric),
        "heads": tlp.get_act_patch_attn_head_out_all_pos(bridge, corrupt_ids, clean_cache, metric),
    }

    def kv_hook(activation, hook, index, clean):
        return tlp.layer_head_vector_patch_setter(activation, index, clean)

    kv = torch.zeros(n_layers, n_kv)
    for layer in range(n_layers):
        for head in range(n_kv):
            hooks = [(name, partial(kv_hook, index=[layer, head], clean=clean_cache[name]))
                     for name in (f"blocks.{layer}.attn.hook_k", f"blocks.{layer}.attn.hook_v")]
            kv[layer, head] = metric(bridge.run_with_hooks(corrupt_ids, fwd_hooks=hooks))
    scores["kv_heads"] = kv
    return {k: v.float() for k, v in scores.items()}, m_clean, m_corrupt


def child_patch_tl(threads: int) -> dict:
    torch, lx, m = _setup(threads)
    from transformer_lens import patching as tlp

    t0 = time.perf_counter()
    bridge = boot_bridge(m)
    res: dict = {"setup_s": time.perf_counter() - t0}
    ids = lambda text: torch.as_tensor(m.tokenize(text).ids)[None]  # noqa: E731
    answer_ids = tuple(m.tokenizer.encode(a, add_special_tokens=False)[0] for a in ANSWERS)
    n = len(m.tokenize(CLEAN).ids)
    tally = Tally(m)
    calls = []  # TransformerLens calls bridge.forward directly (no nn.Module hooks fire): count there
    forward = bridge.forward

    def counted_forward(*args, **kwargs):
        calls.append(1)
        return forward(*args, **kwargs)

    bridge.forward = counted_forward
    with torch.inference_mode():
        bridge.run_with_cache(ids(WARM_CLEAN))
        calls.clear()
        scores, m_clean, m_corrupt = _timed(res, lambda t0: tl_patch_all(bridge, tlp, torch, ids(CLEAN), ids(CORRUPT),
                                                                           answer_ids))
    for _ in calls:  # each a full forward pass, logits at every position
        tally.full_pass(1, n)
    res.update(tally.dump())
    res.update(scores={k: v.tolist() for k, v in scores.items()}, m_clean=m_clean, m_corrupt=m_corrupt,
               cells=len(calls) - 2)
    return res


def child_trace_ours(threads: int, samples: int) -> dict:
    torch, lx, m = _setup(threads)
    lx.causal_trace(m, *WARM_TRACE, samples=samples, kinds="residual")
    tally = Tally(m)
    count_ours(m, tally)
    res: dict = {}

    def on_layer(layer, result):
        res.setdefault("first_picture_s", time.perf_counter() - res["_t0"])

    def run(t0):
        res["_t0"] = t0
        return lx.causal_trace(m, TRACE_PROMPT, TRACE_SUBJECT, TRACE_TARGET, samples=samples, kinds="residual",
                               on_layer=on_layer)

    result = _timed(res, run)
    del res["_t0"]
    res.update(tally.dump())
    res.update(scores={"residual": result.scores["residual"].tolist()}, clean_prob=result.clean_prob,
               corrupted_prob=result.corrupted_prob, n_tokens=len(result.tokens), subject=list(result.subject),
               noise=result.noise)
    return res


def rome_trace(m, torch, ids, span, target, draw):
    """ROME's trace_important_states with trace_with_patch, kind=None (the residual stream after
    each block), as a per-cell loop of full forward passes: batch row 0 clean, rows 1.. noisy."""
    hf = m.model
    layers = m.layers()
    start, stop = span
    n, samples = ids.shape[1], draw.shape[0]
    batch = ids.repeat(samples + 1, 1)

    def noise(_m, _a, out):
        out = out.clone()
        out[1:, start:stop] += draw.to(out.dtype)
        return out

    def first(o):
        return o[0] if isinstance(o, tuple) else o

    def restore(token):
        def hook(_m, _a, out):
            h = first(out).clone()
            h[1:, token] = h[0, token]
            return (h, *out[1:]) if isinstance(out, tuple) else h
        return hook

    def run(hooks=()):
        handles = [hf.get_input_embeddings().register_forward_hook(noise)]
        handles += [layers[l].register_forward_hook(fn) for l, fn in hooks]
        try:
            logits = hf(input_ids=batch).logits  # ROME: model(**inp)["logits"], every position
        finally:
            for h in handles:
                h.remove()
        return float(torch.softmax(logits[1:, -1].float(), -1).mean(0)[target])

    clean = float(torch.softmax(hf(input_ids=ids).logits[0, -1].float(), -1)[target])  # ROME's predict_token
    low = run()
    table = [[run([(layer, restore(token))]) for token in range(n)] for layer in range(len(layers))]
    return table, clean, low


def child_trace_rome(threads: int, samples: int) -> dict:
    torch, lx, m = _setup(threads)
    from llmxai_widgets.methods.locate.inputs import embedding_std, find_subject
    from llmxai_widgets.methods.locate.subjects import SUBJECTS

    def setup(prompt, subject, target):
        tokens = m.tokenize(prompt)
        span = find_subject(tokens, subject)
        scale = 3 * embedding_std(m, SUBJECTS)  # ours' "3sigma", the same draw as ours (seed 1)
        draw = torch.randn(samples, span[1] - span[0], m.config.hidden_size,
                           generator=torch.Generator().manual_seed(1)) * scale
        target_id = m.tokenizer.encode(target, add_special_tokens=False)[0]
        return torch.as_tensor(tokens.ids)[None], span, target_id, draw

    tally = Tally(m)
    res: dict = {}
    with torch.inference_mode():
        rome_trace(m, torch, *setup(*WARM_TRACE))
        args = setup(TRACE_PROMPT, TRACE_SUBJECT, TRACE_TARGET)
        table, clean, low = _timed(res, lambda t0: rome_trace(m, torch, *args))
    n = args[0].shape[1]
    tally.full_pass(1, n)  # the clean prediction
    for _ in range(1 + m.n_layers * n):
        tally.full_pass(samples + 1, n)
    res.update(tally.dump())
    res.update(scores={"residual": table}, clean_prob=clean, corrupted_prob=low, cells=m.n_layers * n)
    return res


# -- parent --------------------------------------------------------------------------------------

def med(runs: list[dict], key: str):
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else None


def fmt(v, spec: str, none: str = "-") -> str:
    return none if v is None else format(v, spec)


def max_diff(a: dict, b: dict, sites) -> dict[str, float]:
    import numpy as np

    return {s: float(np.nanmax(np.abs(np.asarray(a["scores"][s], np.float64) - np.asarray(b["scores"][s], np.float64))))
            for s in sites if s in a["scores"] and s in b["scores"]}


def table(title: str, rows: list[tuple[str, list[dict]]], extra: str = "") -> None:
    head = (f"{'tool':<6} {'time s':>8} {'min s':>7} {'max s':>7} {'fwd':>5} {'rows':>6} {'tok rows':>8} "
            f"{'blk-tok':>8} {'logit rows':>10} {'GFLOP':>7} {'peak MB':>8}")
    print(f"\n{title}\n{head}\n{'-' * len(head)}")
    for tool, runs in rows:
        ok = [r for r in runs if "failed" not in r]
        if not ok:
            print(f"{tool:<6} FAILED: {runs[0]['failed'] if runs else 'not run'}")
            continue
        times = [r["time_s"] for r in ok]
        print(f"{tool:<6} {med(ok, 'time_s'):>8.2f} {min(times):>7.2f} {max(times):>7.2f} {med(ok, 'fwd'):>5.0f} "
              f"{med(ok, 'rows'):>6.0f} {med(ok, 'tok_rows'):>8.0f} {med(ok, 'blk_tok'):>8.0f} "
              f"{med(ok, 'logit_rows'):>10.0f} {med(ok, 'gflop'):>7.1f} {med(ok, 'peak_rss') / 2**20:>8.0f}")
    if extra:
        print(extra)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--samples", type=int, default=3, help="causal tracing's noise samples")
    p.add_argument("--parts", nargs="+", default=list(TOOLS), choices=list(TOOLS))
    p.add_argument("--timeout", type=float, default=1800, help="seconds per run (fresh process)")
    p.add_argument("--mem-cap-gb", type=float, default=10)
    p.add_argument("--quick", action="store_true", help="--repeats 1")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        part, tool, threads = a.child[0], a.child[1], int(a.child[2])
        fn = {("patch", "ours"): lambda: child_patch_ours(threads), ("patch", "tl"): lambda: child_patch_tl(threads),
              ("trace", "ours"): lambda: child_trace_ours(threads, a.samples),
              ("trace", "rome"): lambda: child_trace_rome(threads, a.samples)}[(part, tool)]
        print(json.dumps(fn()))
        return
    if a.quick:
        a.repeats = 1

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ["TQDM_DISABLE"] = "1"  # TransformerLens's per-cell progress bars
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    import importlib.metadata as md

    versions = {k: md.version(k) for k in ("torch", "transformers", "transformer_lens")}
    print(f"# activation patching and causal tracing: ours vs TransformerLens / ROME's loop, SmolLM2-135M, CPU, "
          f"{a.threads} torch thread(s), {a.repeats} repeat(s), fresh process per run, A B A B")
    print("# " + ", ".join(f"{k} {v}" for k, v in versions.items()))

    results: dict[tuple[str, str], list[dict]] = {}
    started = time.monotonic()
    for rep in range(a.repeats):
        for part in a.parts:
            for tool in TOOLS[part]:
                t0 = time.monotonic()
                args = ["--child", part, tool, str(a.threads), "--samples", str(a.samples)]
                r = run_child(args, a.timeout, a.mem_cap_gb, script=HERE)
                r["wall_s"] = time.monotonic() - t0
                results.setdefault((part, tool), []).append(r)
                label = f"{part} {tool} #{rep + 1}"
                if "failed" in r:
                    print(f"  {label}: FAILED {r['failed']}", file=sys.stderr, flush=True)
                else:
                    print(f"  {label}: {r['time_s']:.2f} s (process {r['wall_s']:.0f} s)", file=sys.stderr, flush=True)

    def first_ok(key):
        return next((r for r in results.get(key, []) if "failed" not in r), None)

    verdicts = []
    if "patch" in a.parts:
        ours, tl = first_ok(("patch", "ours")), first_ok(("patch", "tl"))
        ref = ours or tl
        if ref:
            n = ref["n_tokens"] if "n_tokens" in ref else len(ref["scores"]["residual"][0])
            print(f"\n# patching: clean {CLEAN!r}, corrupt {CORRUPT!r}: {n} tokens each"
                  + (f", first difference at token {ours['first_difference']}" if ours else "")
                  + f"; metric logit{ANSWERS[0]!r} - logit{ANSWERS[1]!r}, denoising, normalised")
            if ours:
                print(f"# clean tokens:   {ours['clean_tokens']}\n# corrupt tokens: {ours['corrupt_tokens']}")
            shapes = {s: f"{len(v)}x{len(v[0])}" for s, v in ref["scores"].items()}
            print("# grid: " + ", ".join(f"{s} {shape}" for s, shape in shapes.items()))
        extra = ""
        tl_ok = [r for r in results.get(("patch", "tl"), []) if "failed" not in r]
        if tl_ok:
            extra = (f"tl: {tl_ok[0]['cells']} cells + 2 run_with_cache; bridge setup (deep copy + boot, offline) "
                     f"{med(tl_ok, 'setup_s'):.2f} s, not in the time")
        table("Full patching grid (medians of fresh-process runs)",
              [("ours", results.get(("patch", "ours"), [])), ("tl", results.get(("patch", "tl"), []))], extra)
        ours_ok = [r for r in results.get(("patch", "ours"), []) if "failed" not in r]
        if ours and tl:
            diff = max_diff(ours, tl, SITES)
            worst = max(diff.values())
            print(f"\nAgreement (first runs), max |ours - tl| of the normalised metric: "
                  + ", ".join(f"{s} {d:.1e}" for s, d in diff.items()))
            print(f"  unpatched metric: ours clean {ours['m_clean']:.5f} corrupt {ours['m_corrupt']:.5f}; "
                  f"tl clean {tl['m_clean']:.5f} corrupt {tl['m_corrupt']:.5f}")
            t_ours, t_tl = med(ours_ok, "time_s"), med(tl_ok, "time_s")
            ratio = t_tl / t_ours
            flop_cap = med(tl_ok, "gflop") / med(ours_ok, "gflop")
            print("\nArithmetic (model FLOPs, see Columns)")
            print(f"  tl:   {med(tl_ok, 'fwd'):.0f} full passes x {n} tokens x 30 blocks, logits at all {n} positions: "
                  f"{med(tl_ok, 'gflop'):.1f} GFLOP")
            print(f"  ours: {med(ours_ok, 'fwd'):.0f} passes, {med(ours_ok, 'blk_tok'):.0f} block-tokens "
                  f"(tl {med(tl_ok, 'blk_tok'):.0f}: {med(tl_ok, 'blk_tok') / med(ours_ok, 'blk_tok'):.1f}x fewer), "
                  f"{med(ours_ok, 'logit_rows'):.0f} logit rows (tl {med(tl_ok, 'logit_rows'):.0f}): "
                  f"{med(ours_ok, 'gflop'):.1f} GFLOP incl. the estimate's forward+backward")
            print(f"  cap from arithmetic: {flop_cap:.1f}x; measured {ratio:.2f}x = {ratio / flop_cap:.0%} of the cap")
            print(f"  throughput: ours {med(ours_ok, 'gflop') / t_ours:.0f} GFLOP/s ({med(ours_ok, 'rows') / med(ours_ok, 'fwd'):.1f} "
                  f"sequences per pass on average), tl {med(tl_ok, 'gflop') / t_tl:.0f} GFLOP/s (one sequence per pass, "
                  f"the bridge's hook points and eager attention on every pass)"
                  + ("; above the cap because of that difference, not fewer FLOPs" if ratio > flop_cap else ""))
            ok = ratio >= 4 and worst <= TOL
            verdicts.append(f"Target: >= 4x faster at equal values: {'PASS' if ok else 'FAIL'} ({ratio:.2f}x faster "
                            f"than TransformerLens, {t_ours:.1f} s vs {t_tl:.1f} s; max |diff| {worst:.1e} "
                            f"{'<=' if worst <= TOL else '>'} {TOL:g})")
        if ours_ok:
            est, first = med(ours_ok, "estimate_s"), med(ours_ok, "first_picture_s")
            print(f"\nFirst picture (ours): estimate ready after {est:.2f} s, first on_layer (estimate + layer 0 exact, "
                  f"what a view shows first) after {first:.2f} s (medians; runs: estimate "
                  + ", ".join(f"{r['estimate_s']:.2f}" for r in ours_ok) + " s, first on_layer "
                  + ", ".join(f"{r['first_picture_s']:.2f}" for r in ours_ok) + " s)")
            print("  the views hand the estimate to the browser in their on_layer callback, so it appears with layer 0's "
                  "exact rows (layer 0's cells run all 30 blocks: the costliest layer)")
            print("  estimate's max |estimate - exact| per site: "
                  + ", ".join(f"{s} {v:.2f}" for s, v in ours_ok[0]["estimate_max_err"].items()))
            verdicts.append(f"first picture under 2 s: {'PASS' if first < 2 else 'FAIL'} ({first:.2f} s to the first "
                            f"on_layer; estimate itself {est:.2f} s)")

    if "trace" in a.parts:
        ours, rome = first_ok(("trace", "ours")), first_ok(("trace", "rome"))
        print(f"\n# causal tracing: {TRACE_PROMPT!r}, subject {TRACE_SUBJECT!r}, target {TRACE_TARGET!r}, "
              f"samples={a.samples}, kinds='residual'" + (f", {ours['n_tokens']} tokens, subject tokens "
                                                         f"{ours['subject']}" if ours else ""))
        if ours:
            print(f"# noise: {ours['noise']}")
        extra = f"rome: {rome['cells']} cells (every layer x token) + 1 unpatched noisy run + 1 clean run" if rome else ""
        table("Causal trace, residual grid (medians of fresh-process runs)",
              [("ours", results.get(("trace", "ours"), [])), ("rome", results.get(("trace", "rome"), []))], extra)
        ours_ok = [r for r in results.get(("trace", "ours"), []) if "failed" not in r]
        rome_ok = [r for r in results.get(("trace", "rome"), []) if "failed" not in r]
        if ours and rome:
            diff = max_diff(ours, rome, ["residual"])["residual"]
            print(f"\nAgreement (first runs): max |ours - rome| of p(target) {diff:.1e}; clean p {ours['clean_prob']:.5f} vs "
                  f"{rome['clean_prob']:.5f}, corrupted p {ours['corrupted_prob']:.5f} vs {rome['corrupted_prob']:.5f}")
            t_ours, t_rome = med(ours_ok, "time_s"), med(rome_ok, "time_s")
            ratio = t_rome / t_ours
            cap = med(rome_ok, "gflop") / med(ours_ok, "gflop")
            print(f"  arithmetic: rome {med(rome_ok, 'gflop'):.1f} GFLOP, ours {med(ours_ok, 'gflop'):.1f} GFLOP "
                  f"(block-tokens {med(rome_ok, 'blk_tok'):.0f} vs {med(ours_ok, 'blk_tok'):.0f}, logit rows "
                  f"{med(rome_ok, 'logit_rows'):.0f} vs {med(ours_ok, 'logit_rows'):.0f}): cap {cap:.1f}x; measured "
                  f"{ratio:.2f}x = {ratio / cap:.0%} of the cap")
            print(f"  throughput: ours {med(ours_ok, 'gflop') / t_ours:.0f} GFLOP/s, rome {med(rome_ok, 'gflop') / t_rome:.0f} "
                  f"GFLOP/s")
            print(f"  ours' first picture (first on_layer): {med(ours_ok, 'first_picture_s'):.2f} s")
            verdicts.append(f"causal trace vs ROME's per-cell loop: {ratio:.2f}x faster ({t_ours:.2f} s vs {t_rome:.2f} s), "
                            f"values {'equal' if diff <= TOL else 'DIFFERENT'} (max |diff| {diff:.1e})")

    print("\nTargets")
    for v in verdicts:
        print("  " + v)
    print(f"\n(total {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()

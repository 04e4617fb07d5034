"""The bundled model's whole context (8,192 tokens) in the attention, neuron and logit-lens views:
Python time and peak resident memory, model included, against the 3 GB target.

    .venv/bin/python benchmarks/full_context.py [--tokens 8192] [--views attention neurons lens]
        [--threads 2] [--timeout 1800] [--mem-cap-gb 12]

Each view runs in a fresh child process: load the bundled SmolLM2-135M (float32), warm up on a
short text, reset the peak (VmHWM), then build the view with ``background=False`` (everything it
computes before it is shown: all layers for attention and neurons, the first window of the lens).

Columns
  first s   the view's constructor on the long text (what a notebook waits for before the view
            shows everything).
  model GB  resident memory after loading the model and the warm-up (torch, Python, weights).
  py peak   peak resident memory during the view's computation, the model included (target < 3 GB).
  extra     py peak minus the resident memory before it: what the view adds.

Reference: the direct way, what ``output_attentions=True`` (bertviz, TransformerLens'
``run_with_cache``) or decoding every layer's residual (a logit lens from ``output_hidden_states``)
would hold at once. A run at 8,192 tokens needs more memory than this machine has, so the
column is arithmetic (float32 bytes of the arrays), and the ratio is ours / that.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import _reset_peak, _status, child_options, make_text, run_child  # noqa: E402

VIEWS = ("attention", "neurons", "lens")
GB = 2**30


def child(view: str, n_tokens: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    import llmxai_widgets as lx

    model = lx.load_model()
    text = make_text(lambda t: len(model.tokenize(t)), n_tokens)
    make = {"attention": lx.AttentionView, "neurons": lx.NeuronView, "lens": lx.LogitLensView}[view]
    make(model, "A short warm-up sentence for the first forward pass.", background=False).close()
    gc.collect()
    res = {"rss_before": _status("VmRSS"), "n_tokens": len(model.tokenize(text))}
    _reset_peak()
    t0 = time.perf_counter()
    shown = make(model, text, background=False)
    res["first_s"] = time.perf_counter() - t0
    res["peak_rss"] = _status("VmHWM")
    res["error"] = getattr(shown, "error", "") or ""
    cfg = model.config
    res["shape"] = dict(layers=model.n_layers, heads=model.n_heads, neurons=model.n_neurons,
                        vocab=int(cfg.vocab_size), d_model=int(cfg.hidden_size))
    return res


def direct_bytes(view: str, n: int, shape: dict) -> int:
    """float32 bytes the direct way holds at once."""
    if view == "attention":  # every layer's [heads, n, n] from output_attentions
        return shape["layers"] * shape["heads"] * n * n * 4
    if view == "neurons":  # every layer's MLP activations, hooked (the same array we keep)
        return shape["layers"] * n * shape["neurons"] * 4
    return (shape["layers"] + 1) * n * shape["vocab"] * 4  # logits of every layer's residual


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", type=int, default=8192)
    p.add_argument("--views", nargs="+", default=list(VIEWS), choices=VIEWS)
    child_options(p, timeout=1800)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), int(args.child[2]))))
        return
    print(f"{args.tokens:,} tokens, bundled SmolLM2-135M float32, {args.threads} threads, fresh process per view\n")
    print(f"{'view':10}{'first s':>9}{'model GB':>10}{'py peak':>9}{'extra':>8}{'peak/3GB':>10}{'direct GB':>11}{'ours/direct':>13}")
    verdicts = []
    for view in args.views:
        res = run_child(["--child", view, str(args.tokens), str(args.threads)], args.timeout, args.mem_cap_gb,
                        script=Path(__file__))
        if "failed" in res:
            print(f"{view:10}  failed: {res['failed']}")
            verdicts.append(f"  {view}: FAIL ({res['failed']})")
            continue
        peak, before = res["peak_rss"] / GB, res["rss_before"] / GB
        direct = direct_bytes(view, res["n_tokens"], res["shape"]) / GB + before
        print(f"{view:10}{res['first_s']:>9.1f}{before:>10.2f}{peak:>9.2f}{peak - before:>8.2f}{peak / 3:>10.2f}"
              f"{direct:>11.1f}{peak / direct:>13.3f}")
        if res["error"]:
            print(f"{'':10}  the view showed an error: {res['error'][:200]}")
        ok = peak < 3 and not res["error"]
        verdicts.append(f"  {view}: Python peak {peak:.2f} GB at {res['n_tokens']:,} tokens, model included: "
                        f"{'PASS' if ok else 'FAIL'} (< 3 GB)")
    print("\nTargets")
    print("\n".join(verdicts))
    print("  direct GB: the arrays the direct way holds at once plus the same model memory (arithmetic, float32)")


if __name__ == "__main__":
    main()

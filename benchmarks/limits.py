"""Limits of the methods behind the views on the bundled SmolLM2-135M (float32, CPU): Python time
and peak resident memory as the input grows, for the README's "limits" table.

    .venv/bin/python benchmarks/limits.py [--sizes 128 512] [--methods saliency occlusion ...]
        [--cap occlusion=512 patch=128 ...] [--threads 2] [--timeout 240] [--mem-cap-gb 12]

Every (method, size) runs in a fresh child process: load the bundled model, warm up with the same
call on a short text (causal_trace, patch, circuit and edit with a cheaper setting of it: 2
samples and the residual row only, residual sites only, EAP, one step at a fixed layer), reset
the peak (VmHWM), run the call once. Sizes are prompt tokens; a method runs only the sizes up to
its cap (CAPS below, ``--cap`` overrides), so every case stays under a few minutes here. A case
that passes --timeout seconds or --mem-cap-gb of resident memory is killed and reported, and that
method is not tried at larger sizes. Calibration on this machine (load average 3-6 on 2 cores):
causal_trace with its defaults did not finish in 420 s at 64 tokens, and took 586 s on the bare
9-token fact with the residual row only; patch took 42 s and edit 12 s at 64 tokens. Hence the
caps of 64-128 tokens for them, and no default size of 1,024 (the whole run had to fit in about
30 minutes). The machine is shared and runs other work, so the times are upper bounds.

Texts are reproducible English-like word salad of exactly the given number of tokens (make_text in
_harness.py). Where a method needs a fact, the filler comes first and the fact sentence ends the
text (the whole text is the given size).

Calls (the view's default settings unless said otherwise)
  saliency, input_x_gradient, occlusion
                  lx.attribute(model, text, method=M): the model's greedy next token explained
                  (AttributionView's default call with that method; occlusion its defaults).
  integrated_gradients
                  lx.attribute(model, text, method="integrated_gradients", n_steps=8): NOT the
                  default (50 steps); time grows about in proportion to the steps.
  contributions   lx.contributions(model, text): direct logit attribution of the top prediction.
  causal_trace    lx.causal_trace(model, filler + "The Eiffel Tower is located in the city of",
                  "Eiffel Tower", samples=10): CausalTraceView's defaults (residual, MLP and
                  attention rows, window 10, 10 noise draws, Gaussian 3 sigma).
  patch           lx.patch(model, filler + "The Eiffel Tower is a very famous old landmark that is
                  located in the city of", the same with "The Colosseum"): PatchingView's defaults
                  (every site: residual, attention, MLP per layer x token, and heads; denoising,
                  logit difference of " Paris" and " Rome").
  circuit         lx.circuit(model, clean, corrupt) on the same pair as patch: CircuitView's
                  defaults (EAP-IG, 5 steps, every edge).
  head_summary    lx.head_summary(model, text): sink, previous-token, entropy and induction scores
                  of every head (what the attention view's head summary calls).
  probe           lx.probe(model, 16 texts of the size, labels alternating "a"/"b"): every layer,
                  last position, 5 folds, control task (ProbeView's defaults).
  steering_vector lx.steering_vector(model, 8 positive, 8 negative texts of the size,
                  layers=every block): mean difference, last position (the defaults).
  edit            lx.edit(model, filler + "The Eiffel Tower is located in the city of",
                  "Eiffel Tower", " Rome"): EditView's defaults (layer chosen by causal tracing,
                  identity covariance, the 3 default prefixes, at most 25 steps, stopping early
                  once p(new target) > ~0.95).
  The attention, neuron and logit-lens views are measured up to 8,192 tokens by full_context.py.

Columns (one row per method and size)
  tokens    prompt tokens (for probe and steering_vector: tokens of each of the 16 texts).
  time s    the call's wall time.
  py peak   peak resident memory during the call, the model included (GB).
  extra     py peak minus the resident memory just before the call: what the call adds (GB).

Summary (one row per method, from its two largest sizes that ran)
  longest   the largest size measured, and whether a larger one failed (timeout / memory cap).
  GB/1k     extra GB per 1,000 tokens: the slope of "extra" between the two largest sizes.
  growth    the measured time exponent b, t ~ tokens^b, between those sizes.
  t@8192    time at 8,192 tokens, EXTRAPOLATED (never measured here) from the largest size as
            linear (b < 1.5) or quadratic (b >= 1.5): t_largest * (8192 / largest)^(1 or 2).
            Where b < 1 fixed costs still dominate at the sizes measured, and the quadratic part
            of attention has not shown yet: take the linear figure as a lower bound.
  peak@8192 py peak at 8,192 tokens, EXTRAPOLATED linearly from GB/1k (a lower bound where memory
            grows faster than linearly).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import _reset_peak, _status, child_options, make_text, run_child  # noqa: E402

GB = 2**30
FULL = 8192
METHODS = ("saliency", "input_x_gradient", "integrated_gradients", "occlusion", "contributions", "causal_trace",
           "patch", "circuit", "head_summary", "probe", "steering_vector", "edit")
ATTRIBUTION = ("saliency", "input_x_gradient", "integrated_gradients", "occlusion")
# Largest size per method (tokens) so that each case stays under ~3 minutes on this machine.
CAPS = {"occlusion": 128, "causal_trace": 64, "patch": 64, "circuit": 128, "edit": 128}
N_TEXTS = 16  # probe and steering_vector

TRACE = ("The Eiffel Tower is located in the city of", "Eiffel Tower")
CLEAN = "The Eiffel Tower is a very famous old landmark that is located in the city of"
CORRUPT = "The Colosseum is a very famous old landmark that is located in the city of"
WARM = "A short warm-up sentence for the first forward pass."


def with_fact(model, n: int, fact: str, seed: int = 0) -> str:
    """Filler of n minus the fact's tokens, then the fact: n tokens in all."""
    count = lambda t: len(model.tokenize(t))  # noqa: E731
    k = count(fact)
    for extra in (0, 1, -1, 2, -2):
        m = n - k - extra
        if m < 8:
            return fact
        text = make_text(count, m, seed) + " " + fact
        if count(text) == n:
            return text
    return text


def call(lx, model, method: str, n: int, warm: bool = False):
    """(the call of ``method`` at ``n`` tokens as a thunk, the prompt's token count). ``warm``: a cheaper
    setting of the same call, for the warm-up (the first call's one-off costs, not the method's)."""
    count = lambda t: len(model.tokenize(t))  # noqa: E731
    if method in ATTRIBUTION:
        text = make_text(count, n)
        options = {"n_steps": 8} if method == "integrated_gradients" else {}
        return (lambda: lx.attribute(model, text, method=method, **options)), count(text)
    if method == "contributions":
        text = make_text(count, n)
        return (lambda: lx.contributions(model, text)), count(text)
    if method == "head_summary":
        text = make_text(count, n)
        return (lambda: lx.head_summary(model, text)), count(text)
    if method == "causal_trace":
        text = with_fact(model, n, TRACE[0])
        options = dict(samples=2, kinds=("residual",)) if warm else dict(samples=10)
        return (lambda: lx.causal_trace(model, text, TRACE[1], **options)), count(text)
    if method in ("patch", "circuit"):
        clean = with_fact(model, n, CLEAN)
        corrupt = clean[: len(clean) - len(CLEAN)] + CORRUPT  # the same filler, tokens 1-3 of the fact differ
        if method == "patch":
            options = dict(sites=("residual",)) if warm else {}
            return (lambda: lx.patch(model, clean, corrupt, **options)), count(clean)
        options = dict(method="eap") if warm else {}
        return (lambda: lx.circuit(model, clean, corrupt, **options)), count(clean)
    if method == "edit":
        text = with_fact(model, n, TRACE[0])
        options = dict(layer=10, steps=1) if warm else {}
        return (lambda: lx.edit(model, text, TRACE[1], " Rome", **options)), count(text)
    texts = [make_text(count, n, seed) for seed in range(1, N_TEXTS + 1)]
    if method == "probe":
        labels = ["a", "b"] * (N_TEXTS // 2)
        return (lambda: lx.probe(model, texts, labels)), max(map(count, texts))
    if method == "steering_vector":
        half = N_TEXTS // 2
        layers = list(range(model.n_layers))
        return (lambda: lx.steering_vector(model, texts[:half], texts[half:], layers=layers)), max(map(count, texts))
    raise ValueError(method)


def child(method: str, n_tokens: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    import llmxai_widgets as lx

    model = lx.load_model()
    warm_n = 24 if method in ("causal_trace", "patch", "circuit", "edit") else 12  # the fact needs room
    call(lx, model, method, warm_n, warm=True)[0]()
    run, n = call(lx, model, method, n_tokens)
    gc.collect()
    res = {"rss_before": _status("VmRSS"), "n_tokens": n}
    _reset_peak()
    t0 = time.perf_counter()
    run()
    res["time_s"] = time.perf_counter() - t0
    res["peak_rss"] = _status("VmHWM")
    return res


def summary(method: str, rows: list[dict], failed: str) -> str:
    if not rows:
        return f"{method:21}  nothing ran{': ' + failed if failed else ''}"
    last = rows[-1]
    longest = f"{last['n_tokens']:,}" + (" (next failed)" if failed else "")
    if len(rows) < 2:
        return f"{method:21}{longest:>17}   one size only: no slope or extrapolation"
    a, b = rows[-2], rows[-1]
    dn = (b["n_tokens"] - a["n_tokens"]) / 1000
    slope = ((b["peak_rss"] - b["rss_before"]) - (a["peak_rss"] - a["rss_before"])) / GB / dn
    expo = math.log(b["time_s"] / a["time_s"]) / math.log(b["n_tokens"] / a["n_tokens"])
    power, shape = (2, "quadratic") if expo >= 1.5 else (1, "linear")
    t_full = b["time_s"] * (FULL / b["n_tokens"]) ** power
    peak_full = b["peak_rss"] / GB + max(slope, 0) * (FULL - b["n_tokens"]) / 1000
    return (f"{method:21}{longest:>17}{slope:>9.3f}{expo:>8.2f}  {shape:10}{t_full:>11,.0f}{peak_full:>11.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 512])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--cap", nargs="*", default=[], metavar="METHOD=TOKENS",
                   help="override a method's largest size (CAPS)")
    child_options(p, timeout=240)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), int(args.child[2]))))
        return
    caps = dict(CAPS)
    for item in args.cap:
        name, _, value = item.partition("=")
        if name not in METHODS or not value.isdigit():
            p.error(f"--cap takes METHOD=TOKENS with METHOD one of {', '.join(METHODS)}; got {item!r}")
        caps[name] = int(value)
    sizes = sorted(set(args.sizes))
    print(f"bundled SmolLM2-135M float32, CPU, {args.threads} threads, fresh process per case, sizes "
          f"{', '.join(map(str, sizes))} tokens (capped per method), timeout {args.timeout:g} s\n")
    print(f"{'method':21}{'tokens':>8}{'time s':>9}{'py peak':>9}{'extra':>8}")
    results: dict[str, tuple[list[dict], str]] = {}
    started = time.monotonic()
    for method in args.methods:
        rows, failed = [], ""
        for n in sizes:
            if n > caps.get(method, max(sizes)):
                continue
            res = run_child(["--child", method, str(n), str(args.threads)], args.timeout, args.mem_cap_gb,
                            script=Path(__file__))
            if "failed" in res:
                failed = f"{n:,} tokens: {res['failed']}"
                print(f"{method:21}{n:>8,}  failed: {res['failed']}", flush=True)
                break
            rows.append(res)
            peak, before = res["peak_rss"] / GB, res["rss_before"] / GB
            print(f"{method:21}{res['n_tokens']:>8,}{res['time_s']:>9.1f}{peak:>9.2f}{peak - before:>8.2f}", flush=True)
        results[method] = rows, failed
    print(f"\nSummary (t@8192 and peak@8192 are EXTRAPOLATED, not measured; caps: "
          f"{', '.join(f'{k} {v}' for k, v in caps.items() if k in args.methods)})")
    print(f"{'method':21}{'longest':>17}{'GB/1k':>9}{'growth':>8}  {'model':10}{'t@8192 s':>11}{'peak@8192':>11}")
    for method in args.methods:
        print(summary(method, *results[method]))
    print(f"\nwall time of the whole run: {(time.monotonic() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()

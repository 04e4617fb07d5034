"""Integrated gradients' time to accuracy, ours against Captum (issue 14), on the bundled SmolLM2.

    .venv/bin/python benchmarks/ig_accuracy.py [--prompts 0 1 2] [--rules riemann_trapezoid gausslegendre]
        [--ladder-max 64] [--tolerance 0.05] [--generate 10] [--threads 1] [--timeout 1200]
    .venv/bin/python benchmarks/ig_accuracy.py --quick   # the 13-token prompt, 5 targets (~2 minutes)

What is explained: the model's greedy next token after each prompt below (13, 20 and 42 tokens),
its log-probability, baseline token id 0 at every position (Captum: ``baselines=zeros_like(ids)``
through LayerIntegratedGradients on the embedding layer; ours: ``baseline=0``, the default).
Completeness error: |sum of scores - (f(input) - f(baseline))| / |f(input) - f(baseline)|
(Captum's from ``return_convergence_delta=True``).

Per prompt, one fresh process (model loaded, both tools warmed up on a short sentence, torch
with --threads threads), in this order:

  captum ladder   LayerIntegratedGradients(method=rule, internal_batch_size=25) at n_steps = 8,
                  16, 32, ... --ladder-max, stopping at the first whose error is under --tolerance:
                  "n" is that step count, "1 call s" the time of that one call (what a user who
                  knew n would pay), "ladder s" all calls up to it (what finding n costs).
  ours fixed      lx.attribute(n_steps=n, rule=rule, batch=25) at Captum's n (at --ladder-max when
                  Captum never got under the tolerance): the like-for-like speed ratio.
  ours auto       lx.attribute(n_steps="auto", rule=rule, tolerance=..., max_steps=--ladder-max).
  ours default    lx.attribute(n_steps="auto", tolerance=...): the rule "auto" picks by itself and
                  max_steps 400; "local" is the sum of its panels' own completeness errors (the
                  adaptive rule converges on that, which bounds the completeness error).

Columns: "ours n" the step count of the like-for-like run, "fixed s" its time, "fix/1call" that
over Captum's one call at the same n; "auto n" (! = did not converge), "auto s", "auto err" ours
with n_steps="auto" and the same rule, "auto/1call" and "auto/ladder" its time over Captum's one
call and over Captum's whole ladder. Below 1: ours is faster.

Then one more process times streaming: attribute(prompt 0, generate=--generate,
method="integrated_gradients", n_steps=50) with an on_row callback: seconds from the call to the
first row and to the end; against a Captum user's loop (generate, then one
LayerIntegratedGradients call per target, 50 steps): its first row is its first call.

Notes. Captum's riemann_trapezoid weights sum to (n-1)/n (ours to 1), so its error carries a 1/n
bias. On this model, the path from token 0's embedding to the prompt's has transitions narrower
than 1e-3 in the path parameter, so a uniform rule's completeness error does not fall steadily
with n: a step count that gets under 5% mostly does so by errors cancelling, and the next one up
may be far off (the ladder columns show it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import run_child  # noqa: E402

HERE = Path(__file__).resolve()
PROMPTS = [
    "The capital of France is Paris, and the capital of Italy is",
    "When Mary and John went to the store after a long day at work, John gave a drink to",
    "The old lighthouse keeper climbed the narrow stairs every evening to light the great lamp. One stormy "
    "night in November, the lamp would not light, and the ships out at sea could not see the rocks, so he",
]
WARM = "A short warm-up sentence."
RULES = ("riemann_trapezoid", "gausslegendre", "riemann_middle")


# -- child processes -----------------------------------------------------------------------------

class Spy:
    """Keeps what the integrated-gradients method returned besides the scores (steps used, ...):
    attribute() passes only completeness, converged and notes on."""

    def __init__(self):
        from llmxai_widgets.methods.attribution import ATTRIBUTION_METHODS

        self.spec = ATTRIBUTION_METHODS["integrated_gradients"]
        inner, self.extra = self.spec.fn, {}

        def fn(problem, **kwargs):
            rows, extra = inner(problem, **kwargs)
            self.extra = extra
            return rows, extra

        self.spec.fn = fn


def _setup(threads: int):
    import torch

    torch.set_num_threads(threads)
    import llmxai_widgets as lx

    return lx, lx.load_model()


def _captum(m, text: str):
    """(ids, target id, gap, run(n, rule) -> (seconds, error, scores))."""
    import torch
    from captum.attr import LayerIntegratedGradients

    ids = torch.as_tensor(m.tokenize(text).ids)[None]
    with torch.no_grad():
        target = int(m.model(input_ids=ids).logits[0, -1].argmax())

    def f(x):
        return torch.log_softmax(m.model(input_ids=x).logits[:, -1].float(), dim=-1)[:, target]

    with torch.no_grad():
        gap = float(f(ids) - f(torch.zeros_like(ids)))
    lig = LayerIntegratedGradients(f, m.model.get_input_embeddings())

    def run(n: int, rule: str):
        t0 = time.perf_counter()
        attr, delta = lig.attribute(ids, baselines=torch.zeros_like(ids), n_steps=n, method=rule,
                                    internal_batch_size=25, return_convergence_delta=True)
        return time.perf_counter() - t0, abs(float(delta)) / abs(gap), attr[0].sum(-1).detach()

    return ids, target, gap, run


def child_accuracy(k: int, rules: list[str], ladder_max: int, tol: float, threads: int) -> dict:
    lx, m = _setup(threads)
    spy = Spy()
    text = PROMPTS[k]
    ids, target, gap, captum = _captum(m, text)

    def ours(**options):
        t0 = time.perf_counter()
        res = lx.attribute(m, text, method="integrated_gradients", **options)
        sec = time.perf_counter() - t0
        assert int(res.tokens.ids[-1]) == target
        extra = spy.extra
        local = extra.get("local_error")
        rule = extra.get("rule", options.get("rule", "gausslegendre"))
        return {"s": sec, "error": float(res.completeness[0]), "converged": bool(res.converged),
                "steps": int(extra.get("steps", [0])[0]), "rule": rule,
                "local": None if local is None else float(local[0]), "notes": list(res.notes)}

    # warm-up: both tools, a short sentence, a few steps (first calls allocate and pick kernels)
    _, _, _, warm = _captum(m, WARM)
    warm(4, "gausslegendre")
    lx.attribute(m, WARM, method="integrated_gradients", n_steps=4)
    out = {"prompt": k, "tokens": int(ids.shape[1]), "target": m.tokenizer.decode([target]), "gap": gap, "rules": {}}
    for rule in rules:
        ladder, found = [], None
        n = 8
        while n <= ladder_max:
            sec, err, _ = captum(n, rule)
            ladder.append((n, sec, err))
            if err < tol:
                found = n
                break
            n *= 2
        matched = found or ladder[-1][0]
        row = {"ladder": ladder, "found": found, "matched": matched,
               "captum_call_s": ladder[-1][1], "ladder_s": sum(x[1] for x in ladder)}
        row["fixed"] = ours(n_steps=matched, rule=rule, baseline=0, batch=25)
        row["auto"] = ours(n_steps="auto", rule=rule, baseline=0, batch=25, tolerance=tol, max_steps=ladder_max)
        out["rules"][rule] = row
        print(f"  prompt {k} {rule}: captum n={found} ({row['ladder_s']:.1f} s ladder), ours auto "
              f"{row['auto']['s']:.1f} s at {row['auto']['steps']} steps", file=sys.stderr, flush=True)
    out["default"] = ours(n_steps="auto", tolerance=tol)
    return out


def child_stream(k: int, generate: int, n_steps: int, threads: int) -> dict:
    import torch

    lx, m = _setup(threads)
    from captum.attr import LayerIntegratedGradients

    text = PROMPTS[k]
    lx.attribute(m, WARM, generate=2, method="integrated_gradients", n_steps=4)
    t0 = time.perf_counter()
    seen: list[tuple[float, int]] = []
    res = lx.attribute(m, text, generate=generate, method="integrated_gradients", n_steps=n_steps, baseline=0,
                       on_row=lambda i, row: seen.append((time.perf_counter() - t0, int(i))))
    ours = {"first_s": seen[0][0], "total_s": time.perf_counter() - t0, "order": [i for _, i in seen],
            "rows": len(res.target_positions)}

    emb = m.model.get_input_embeddings()
    t0 = time.perf_counter()
    ids = torch.as_tensor(m.tokenize(text).ids)[None]
    with torch.no_grad():
        full = m.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=generate,
                                do_sample=False)
    first = None
    for t in range(ids.shape[1], full.shape[1]):
        prefix, target = full[:, :t], int(full[0, t])

        def f(x, target=target):
            return torch.log_softmax(m.model(input_ids=x).logits[:, -1].float(), dim=-1)[:, target]

        LayerIntegratedGradients(f, emb).attribute(prefix, baselines=torch.zeros_like(prefix), n_steps=n_steps,
                                                   internal_batch_size=25)
        first = first or time.perf_counter() - t0
    captum = {"first_s": first, "total_s": time.perf_counter() - t0}
    return {"prompt": k, "generate": generate, "n_steps": n_steps, "ours": ours, "captum": captum}


# -- parent --------------------------------------------------------------------------------------

def _f(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def report(acc: list[dict], stream: dict | None, tol: float) -> None:
    print(f"\nTime to a completeness error under {tol:.0%} (one fresh process per prompt; seconds)")
    head = (f"{'prompt':<11} {'rule':<18} {'captum n':>8} {'1 call s':>8} {'ladder s':>8} {'ours n':>6} "
            f"{'fixed s':>7} {'fix/1call':>9} {'auto n':>6} {'auto s':>7} {'auto err':>8} {'auto/1call':>10} "
            f"{'auto/ladder':>11}")
    print(head + "\n" + "-" * len(head))
    ratios: dict[str, list[float]] = {}
    for r in acc:
        if "failed" in r:
            print(f"prompt {r.get('k')}: FAILED {r['failed']}")
            continue
        name = f"{r['tokens']} tok"
        for rule, row in r["rules"].items():
            fx, au = row["fixed"], row["auto"]
            auto_steps = f"{au['steps']}{'' if au['converged'] else '!'}"
            r1, r2, r3 = fx["s"] / row["captum_call_s"], au["s"] / row["captum_call_s"], au["s"] / row["ladder_s"]
            ratios.setdefault(rule, []).extend([r1])
            print(f"{name:<11} {rule:<18} {_f(row['found'], '8d'):>8} {row['captum_call_s']:>8.2f} "
                  f"{row['ladder_s']:>8.2f} {row['matched']:>6d} {fx['s']:>7.2f} {r1:>9.2f} {auto_steps:>6} "
                  f"{au['s']:>7.2f} {au['error']:>8.3f} {r2:>10.2f} {r3:>11.2f}")
        d = r["default"]
        best = min((row["ladder_s"] for row in r["rules"].values()), default=None)
        print(f"{name:<11} {'auto default: ' + str(d['rule']):<30} steps {d['steps']}{'' if d['converged'] else '!'}  "
              f"{d['s']:.2f} s  error {d['error']:.3f}  local {_f(d['local'], '.3f')}"
              + ("" if best is None else f"  (/ best Captum ladder: {d['s'] / best:.2f})"))
    print("  captum n '-': no step count of the ladder got under the tolerance; the comparison is then at the"
          " ladder's top.\n  ! = did not converge (stopped at max_steps or where more steps cannot help)")
    for rule, xs in ratios.items():
        print(f"  ours fixed / Captum at the same n, {rule}: median {statistics.median(xs):.2f}")
    print("\nCompleteness error along Captum's ladder (n: error)")
    for r in acc:
        for rule, row in r.get("rules", {}).items():
            print(f"  {r['tokens']:>3} tok {rule:<18} " + "  ".join(f"{n}: {e:.3f}" for n, _, e in row["ladder"]))
    for r in acc:
        for note in r.get("default", {}).get("notes", []):
            print(f"  note ({r['tokens']} tok, auto default): {note}")
    if stream:
        print(f"\nStreaming: prompt {stream.get('prompt')} ({PROMPTS[stream.get('prompt', 0)][:40]}...), "
              f"generate={stream.get('generate')}, n_steps={stream.get('n_steps')}")
        if "failed" in stream:
            print(f"  FAILED {stream['failed']}")
            return
        o, c = stream["ours"], stream["captum"]
        print(f"  ours    first row {o['first_s']:7.2f} s   all {o['rows']} rows {o['total_s']:7.2f} s   "
              f"(first/all {o['first_s'] / o['total_s']:.2f}; rows in order {o['order']})")
        print(f"  captum  first row {c['first_s']:7.2f} s   all rows {c['total_s']:7.2f} s   "
              f"(generation + one call per target)")
        print(f"  ours/captum: first row {o['first_s'] / c['first_s']:.2f}, all rows {o['total_s'] / c['total_s']:.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prompts", type=int, nargs="+", default=[0, 1, 2], choices=range(len(PROMPTS)))
    p.add_argument("--rules", nargs="+", default=list(RULES[:2]), choices=RULES)
    p.add_argument("--ladder-max", type=int, default=64,
                   help="top of Captum's ladder and ours' max_steps with a fixed rule (128: ~13 minutes)")
    p.add_argument("--tolerance", type=float, default=0.05)
    p.add_argument("--generate", type=int, default=10, help="targets for the streaming run (0: skip it)")
    p.add_argument("--stream-steps", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--timeout", type=float, default=1200, help="seconds per child process")
    p.add_argument("--mem-cap-gb", type=float, default=8)
    p.add_argument("--quick", action="store_true", help="--prompts 0 --generate 5")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        kind, *rest = a.child
        if kind == "accuracy":
            out = child_accuracy(int(rest[0]), rest[1].split(","), int(rest[2]), float(rest[3]), int(rest[4]))
        else:
            out = child_stream(int(rest[0]), int(rest[1]), int(rest[2]), int(rest[3]))
        print(json.dumps(out))
        return
    if a.quick:
        a.prompts, a.generate = [0], 5
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    import importlib.metadata as md

    print(f"# integrated gradients, time to accuracy: ours vs Captum, SmolLM2-135M, CPU, {a.threads} torch thread(s)")
    print("# " + ", ".join(f"{k} {md.version(k)}" for k in ("torch", "transformers", "captum")))
    print(f"# tolerance {a.tolerance:.0%}, rules {', '.join(a.rules)}, Captum ladder 8..{a.ladder_max} (doubling)")
    started = time.monotonic()
    acc = []
    for k in a.prompts:
        r = run_child(["--child", "accuracy", str(k), ",".join(a.rules), str(a.ladder_max), str(a.tolerance),
                       str(a.threads)], a.timeout, a.mem_cap_gb, script=HERE)
        r.setdefault("k", k)
        acc.append(r)
    stream = None
    if a.generate:
        k = 0
        stream = run_child(["--child", "stream", str(k), str(a.generate), str(a.stream_steps), str(a.threads)],
                           a.timeout, a.mem_cap_gb, script=HERE)
        stream.setdefault("prompt", k)
    report(acc, stream, a.tolerance)
    print(f"\n(total {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()

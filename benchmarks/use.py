"""Using what is inside, on the bundled SmolLM2: steering vectors against repeng, probes per
layer, rank-one edits with and without a key covariance.

    pip install --no-deps repeng==0.4.0    # its numpy<2 pin is only for annotations (aliased below)
    python benchmarks/use.py [--pairs 96] [--runs 3] [--threads 2] [--skip probe,edit]

Reported:

- steering vectors (``--pairs`` sentiment pairs, every block but the last, ``pca_diff``): time per
  stage (reading the residual stream, computing the directions) for ours and for repeng's
  ``ControlVector.train`` on the same pairs, layers and batch size, best of ``--runs``; how far
  each one's directions move between runs (1 - min cosine across runs and layers: repeng's PCA
  is scikit-learn's, whose 'auto' solver is an unseeded randomized SVD for hidden sizes over
  500); the cosine between ours (``center=True``, repeng's centring) and repeng's directions.
- probes: fit time per layer (5 folds plus the control task) on the sentiment set.
- edits: time of one ROME edit with the identity covariance and with a covariance from texts.

Target (issue 13): steering-vector training at least as fast as repeng, with deterministic output.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

TEMPLATES = ("I {} {}. Honestly, it is", "Everyone knows I {} {}, and", "To be clear, I {} {}. It feels",
             "My friends say I {} {}. They think it is", "I really {} {}! It was", "Do I {} {}? Yes, it is",
             "Last week I said I {} {}, because it was", "I {} {} more every day. It is")
THINGS = ("this film", "the food here", "my new job", "this song", "the weather today", "our teacher", "this book",
          "the hotel", "my neighbours", "the new phone", "this city", "the match last night")


def sentiment_pairs(n: int) -> tuple[list[str], list[str]]:
    pairs = [(t.format("love", x), t.format("hate", x)) for t in TEMPLATES for x in THINGS][:n]
    return [p for p, _ in pairs], [q for _, q in pairs]


def best(fn, runs: int):
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def steering(model, args) -> None:
    import llmxai_widgets as lx
    from llmxai_widgets.methods.use.features import block_outputs

    np.float_ = np.float64  # repeng 0.4.0 names np.float_ in annotations; numpy 2 removed the alias
    from repeng import ControlVector, DatasetEntry
    from repeng.extract import batched_get_hiddens

    positive, negative = sentiment_pairs(args.pairs)
    layers = list(range(model.n_layers - 1))  # the last block's hidden state in transformers is after the final norm
    tok = model.tokenizer
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    dataset = [DatasetEntry(p, n) for p, n in zip(positive, negative)]
    texts = [s for p, n in zip(positive, negative) for s in (p, n)]
    print(f"\n## steering vectors: {len(dataset)} pairs, {len(layers)} blocks, pca_diff, batch 32")

    read_ours, _ = best(lambda: block_outputs(model, positive + negative, layers, batch_size=32), args.runs)
    total_ours, ours = best(lambda: [lx.steering_vector(model, positive, negative, layers=layers, method="pca_diff",
                                                        center=True, batch_size=32) for _ in range(1)][0], args.runs)
    with torch.inference_mode():
        read_rep, _ = best(lambda: batched_get_hiddens(model.model, tok, texts, layers, 32), args.runs)
    repeng_runs = []
    total_rep, _ = best(lambda: repeng_runs.append(ControlVector.train(model.model, tok, dataset, hidden_layers=layers,
                                                                      method="pca_diff", batch_size=32)), args.runs)
    again = [lx.steering_vector(model, positive, negative, layers=layers, method="pca_diff", center=True, batch_size=32)
             for _ in range(2)]

    def cos(a, b):
        return float(abs(a @ b) / np.linalg.norm(a) / np.linalg.norm(b))

    ours_drift = 1 - min(cos(a.directions[layer], b.directions[layer]) for a, b in zip(again, again[1:]) for layer in layers)
    rep_drift = 1 - min(cos(a.directions[layer], b.directions[layer])
                        for a in repeng_runs for b in repeng_runs for layer in layers)
    agree = [cos(ours.directions[layer], repeng_runs[0].directions[layer]) for layer in layers]
    print("| stage | ours (s) | repeng (s) | ratio |")
    print("|---|---|---|---|")
    print(f"| read the residual stream | {read_ours:.2f} | {read_rep:.2f} | {read_rep / read_ours:.2f}x |")
    print(f"| directions | {max(total_ours - read_ours, 0):.3f} | {max(total_rep - read_rep, 0):.3f} | |")
    print(f"| total | {total_ours:.2f} | {total_rep:.2f} | {total_rep / total_ours:.2f}x |")
    identical = all(np.array_equal(again[0].directions[layer], again[1].directions[layer]) for layer in layers)
    rep_identical = all(np.array_equal(repeng_runs[0].directions[layer], r.directions[layer])
                        for r in repeng_runs[1:] for layer in layers)
    print(f"run to run: 1 - min cosine over {len(layers)} blocks: ours {ours_drift:.1e}, repeng {rep_drift:.1e} "
          f"(float32 rounding of the cosine is ~1e-7); bit-identical: ours {identical}, repeng {rep_identical}")
    print(f"cosine ours (center=True) vs repeng, per block: min {min(agree):.4f}, median {np.median(agree):.4f}")


def probes(model, args) -> None:
    import llmxai_widgets as lx

    texts, labels = lx.probe_datasets.load("sentiment")
    print(f"\n## probes: {len(texts)} texts (sentiment), every block, 5 folds + the control task")
    for position in ("last", "mean"):
        total, result = best(lambda: lx.probe(model, texts, labels, position=position), args.runs)
        fits = np.asarray(result.seconds)
        print(f"position {position}: total {total:.2f} s for {len(result.layers)} blocks; fitting per block "
              f"{fits.mean() * 1000:.0f} ms (max {fits.max() * 1000:.0f} ms), the rest reads the residual stream")


def edits(model, args) -> None:
    import llmxai_widgets as lx

    fact = lx.edit_facts.FACTS[1]
    texts = [f.prompt for f in lx.edit_facts.FACTS] + [p for f in lx.edit_facts.FACTS for p in f.paraphrases + f.neighbours]
    print(f"\n## edits: {fact.prompt!r} -> {fact.new_target!r}")
    for name, kwargs in (("identity covariance, block given", {"layer": 4}),
                         (f"covariance from {len(texts)} texts, block given", {"layer": 4, "covariance": texts}),
                         ("identity covariance, block by causal tracing", {})):
        seconds, e = best(lambda: lx.edit(model, fact.prompt, fact.subject, fact.new_target, **kwargs), args.runs)
        print(f"{name}: {seconds:.2f} s (block {e.layer}, {len(e.losses)} optimisation steps; {e.covariance[:60]})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=96)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip", default="")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    import llmxai_widgets as lx

    model = lx.load_model()
    print(f"# use: SmolLM2-135M, CPU, {args.threads} thread(s), torch {torch.__version__}")
    skip = set(filter(None, args.skip.split(",")))
    for name, fn in (("steering", steering), ("probe", probes), ("edit", edits)):
        if name not in skip:
            fn(model, args)


if __name__ == "__main__":
    main()

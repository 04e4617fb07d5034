"""How faithful is each attribution method on the bundled SmolLM2? ERASER's comprehensiveness and
sufficiency (AOPC over 1, 5, 10, 20 and 50% of the tokens, tokens removed; integrated gradients with
50 steps, Captum's default, and with n_steps="auto") on the 30 prompts of
``llmxai_widgets.methods.evaluate.prompts``, each explaining the model's own top next token.

    python benchmarks/faithfulness.py [--prompts 30] [--random 10] [--threads 2]

Prints a markdown table: the mean over the prompts (and its standard error) per method, the random
ranking (``--random`` rankings per prompt) and the leave-one-out oracle. Comprehensiveness: higher
is more faithful (removing the top tokens hurts); sufficiency: lower is more faithful (the top
tokens alone keep the prediction). Also the share of prompts where a method beats random.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

# (row label, method, options): integrated gradients at Captum's default 50 steps and at n_steps="auto"
# (adaptive, completeness error under 5% or up to 400 steps)
METHODS = (("attention_rollout", "attention_rollout", {}), ("saliency", "saliency", {}),
           ("input_x_gradient", "input_x_gradient", {}),
           ("integrated_gradients (50 steps)", "integrated_gradients", {"n_steps": 50}),
           ("integrated_gradients (auto)", "integrated_gradients", {"n_steps": "auto"}),
           ("occlusion", "occlusion", {}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--prompts", type=int, default=30)
    p.add_argument("--random", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    import llmxai_widgets as lx
    from llmxai_widgets.methods.evaluate.prompts import PROMPTS

    model = lx.load_model()
    prompts = PROMPTS[: args.prompts]
    print(f"# faithfulness: SmolLM2-135M, {len(prompts)} prompts, ERASER bins, tokens removed, "
          f"{args.random} random rankings per prompt")
    rows: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in METHODS}
    unconverged = 0
    rows["random"], rows["leave-one-out"] = [], []
    started = time.perf_counter()
    for k, (prompt, answer) in enumerate(prompts):
        for i, (label, method, options) in enumerate(METHODS):
            result = lx.attribute(model, prompt, target=answer, method=method, **options)
            unconverged += options.get("n_steps") == "auto" and not result.converged
            f = lx.faithfulness(model, result, metrics=("comprehensiveness", "sufficiency"),
                                baselines=("random", "loo") if i == 0 else (), random_samples=args.random,
                                seed=k)
            t = f.targets[0]
            rows[label].append((t.explanation.aopc_comprehensiveness, t.explanation.aopc_sufficiency))
            if i == 0:
                rows["random"].append((t.random.aopc_comprehensiveness, t.random.aopc_sufficiency))
                rows["leave-one-out"].append((t.loo.aopc_comprehensiveness, t.loo.aopc_sufficiency))
    print(f"({time.perf_counter() - started:.0f} s; integrated gradients auto did not converge on "
          f"{unconverged} of {len(prompts)} prompts)\n")
    random = np.asarray(rows["random"])
    print("| ranking | AOPC comprehensiveness (higher: more faithful) | AOPC sufficiency (lower: more faithful) "
          "| beats random (comp. / suff.) |")
    print("|---|---|---|---|")
    for name, values in rows.items():
        v = np.asarray(values)
        se = v.std(0, ddof=1) / np.sqrt(len(v))
        beats = "" if name == "random" else (f"{np.mean(v[:, 0] > random[:, 0]):.0%} / "
                                             f"{np.mean(v[:, 1] < random[:, 1]):.0%}")
        print(f"| {name} | {v[:, 0].mean():.3f} ± {se[0]:.3f} | {v[:, 1].mean():.3f} ± {se[1]:.3f} | {beats} |")


if __name__ == "__main__":
    main()

"""The cells of examples/circuits.ipynb (written by scripts/make_examples.py).

Every sentence that states what the numbers show is either printed from the numbers or checked
by an ``assert`` in the cell below it, so the lesson fails its test if the model says otherwise."""

from nbformat.v4 import new_code_cell, new_markdown_cell

CIRCUITS = [
    new_markdown_cell(
        "# Circuits: which heads and MLPs work together\n\n"
        "Activation patching asks about one activation at a time. A *circuit* asks which components "
        "**together** compute a behaviour, and through which connections. Think of the model as a graph: "
        "every attention head and every MLP reads the residual stream and writes back into it, so every "
        "earlier writer (the embeddings, a head, an MLP) has an **edge** into every later reader (a head's "
        "queries, a key/value head's keys and values, an MLP, the logits). SmolLM2 has about 70,000 such "
        "edges.\n\n"
        "Scoring each edge by a patched run would take hours on a laptop. **Edge attribution patching** "
        "(EAP, and EAP-IG: Hanna et al. 2024) estimates every edge at once from gradients: "
        "(corrupted output − clean output) · ∂metric/∂(reader's input). Then we check the estimate with exact "
        "runs. Everything runs offline on the bundled SmolLM2-135M."
    ),
    new_code_cell(
        "import numpy as np\n"
        "import llmxai_widgets as lx\n\n"
        "model = lx.load_model()\n"
        "task = lx.circuit_tasks.induction(model, n_pairs=4)\n"
        "print(task.description)\n"
        "pair = task.pairs[0]\n"
        "print('clean:    ', pair.clean.text)\n"
        "print('corrupted:', pair.corrupt.text)"
    ),
    new_markdown_cell(
        "## The task: induction\n\n"
        "Six random words, then the same words again: at the end the model can only predict the next word "
        "by finding where the current word appeared before and copying what followed it. The corrupted "
        "prompt starts with six *other* words, so nothing before says what comes next. The metric is the "
        "log-probability of the right word; scores are averaged over 4 such pairs.\n\n"
        "In the graph below, blocks go bottom to top, heads left to right, each block's MLP is the square "
        "at the right. The slider sets how many of the strongest edges are drawn; the view then runs the "
        "model with **every other edge corrupted** and shows how much of the behaviour is left "
        "(faithfulness: 1 = the clean run, 0 = the corrupted run). Click a node to run it exactly and to see, "
        "for a head, its attention."
    ),
    new_code_cell(
        "view = lx.CircuitView(model, task, n_shown=40)\n"
        "view"
    ),
    new_code_cell(
        "view.wait()\n"
        "r = view.result\n"
        "print(f\"log p(answer): clean {r.clean_metric:.2f}, corrupted {r.corrupted_metric:.2f}\")\n"
        "top = r.top(8)\n"
        "for name, u, d in zip(top.names(), top.upstream, top.downstream):\n"
        "    print(f\"{name:22s} {r.scores[u, d]:+.3f}\")\n"
        "assert r.clean_metric - r.corrupted_metric > 5  # the model does the task, and the corruption breaks it\n"
        "assert len(task.pairs) == 4 and abs(r.n_edges - 70_000) < 5_000  # 4 pairs, about 70,000 edges"
    ),
    new_markdown_cell(
        "A negative score means the edge carries what the right answer needs: corrupting it alone lowers the "
        "log-probability. Names read *writer -> reader*: `a16.h0` is layer 16's head 0, `m0` layer 0's MLP, "
        "`a18.kv2.k` the keys of layer 18's key/value head 2.\n\n"
        "## Check the estimate\n\n"
        "EAP-IG is a linear approximation. For the 200 edges it ranks highest, run the model once per edge "
        "with that edge corrupted and compare the rankings:"
    ),
    new_code_cell(
        "from llmxai_widgets.methods.stats import spearman\n\n"
        "checked, exact = r.exact_top(200)\n"
        "estimate = r.scores[checked.upstream, checked.downstream]\n"
        "rho = spearman(estimate, exact)\n"
        "print(f\"Spearman correlation of EAP-IG and exact scores over the top 200 edges: {rho:.2f}\")\n"
        "assert 0.3 < rho < 0.95  # related, far from identical"
    ),
    new_markdown_cell(
        "## Nodes: the previous-token head and the induction head\n\n"
        "Edges are many and small. One level up, corrupt each head's or MLP's whole output (one exact run "
        "per node) and look at the heads that matter most. Induction needs two kinds of head "
        "(Olsson et al. 2022): a **previous-token head** copies each word's predecessor into its "
        "position, and an **induction head** then attends from the current word to the word that "
        "*followed* its earlier occurrence. Their attention patterns show which is which:"
    ),
    new_code_cell(
        "nodes = lx.circuit(model, task, method='exact', level='node')\n"
        "g = nodes.graph\n"
        "n = 6  # words in each half\n"
        "patterns = [lx.attention(model, p.clean) for p in task.pairs]\n\n"
        "def head_scores(layer, head):\n"
        "    prev = np.mean([np.mean([a.head(layer, head)[q, q - 1] for q in range(1, len(a.tokens))]) for a in patterns])\n"
        "    induction = np.mean([np.mean([a.head(layer, head)[q, q - n + 1] for q in range(n, len(a.tokens))])\n"
        "                         for a in patterns])\n"
        "    return prev, induction\n\n"
        "heads = [u for u in np.argsort(nodes.node_scores[1:]) + 1 if (u - 1) % (g.n_heads + 1) != g.n_heads][:10]\n"
        "print('head     exact   EAP-IG  previous-token  induction')\n"
        "found = {}\n"
        "for u in heads:\n"
        "    layer, head = divmod(u - 1, g.n_heads + 1)\n"
        "    prev, induction = head_scores(layer, head)\n"
        "    print(f\"L{layer} H{head:<3d} {nodes.node_scores[u]:+7.2f} {r.node_scores[u]:+7.2f} {prev:12.2f} {induction:10.2f}\")\n"
        "    if prev > 0.8: found.setdefault('previous-token', u)\n"
        "    if induction > 0.5: found.setdefault('induction', u)\n"
        "strongest = heads[0]\n"
        "uniform = np.mean([1 / (q + 1) for q in range(n, len(patterns[0].tokens))])  # a head that spreads its weight evenly\n"
        "print(f\"a uniform head would put {uniform:.2f} on that word\")\n"
        "assert found.get('previous-token') == strongest  # the head that matters most is a previous-token head\n"
        "assert 'induction' in found and 0.07 < uniform < 0.15  # and an induction head is among the ten that matter most"
    ),
    new_markdown_cell(
        "The head whose corruption hurts most puts most of its attention (over 0.8) on the previous word, "
        "and among the ten heads that matter most there is an induction head (over half of its attention on "
        "the word that followed the current word's first occurrence, where a uniform head would put about a "
        "tenth): the two-step mechanism, found in a 135M-parameter "
        "model from four prompt pairs. Click them in the graph above to see their attention.\n\n"
        "## Where it misleads\n\n"
        "**The linear estimate can miss what matters most.** Compare the two score columns: the estimate "
        "gives the previous-token head a fraction of its exact effect."
    ),
    new_code_cell(
        "u = found['previous-token']\n"
        "print(f\"previous-token head: exact {nodes.node_scores[u]:+.2f}, EAP-IG {r.node_scores[u]:+.2f}\")\n"
        "assert abs(r.node_scores[u]) < 0.5 * abs(nodes.node_scores[u])"
    ),
    new_markdown_cell(
        "A check you can always run: the scores of the edges out of the embeddings should add up to "
        "metric(corrupted) − metric(clean) (EAP-IG's *completeness*). Where they do not, the interpolation "
        "has too few steps for how curved the model is between the two prompts: here the view's 5 steps miss "
        "by far more than 20 steps do."
    ),
    new_code_cell(
        "target = r.corrupted_metric - r.clean_metric\n"
        "error = {}\n"
        "for steps, result in ((5, r), (20, lx.circuit(model, task, steps=20))):\n"
        "    total = np.nansum(result.scores[0])\n"
        "    error[steps] = abs(total - target) / abs(target)\n"
        "    print(f\"{steps:2d} steps: embedding edges sum to {total:+.2f}, target {target:+.2f} (error {error[steps]:.0%})\")\n"
        "assert error[20] < 0.5 * error[5]"
    ),
    new_markdown_cell(
        "**Faithful is not minimal.** A circuit is faithful if the model, with everything outside it "
        "corrupted, still does the task. Keep the nodes with the largest exact effects and corrupt the rest:"
    ),
    new_code_cell(
        "ranked = np.argsort(-np.abs(nodes.node_scores[1:])) + 1\n"
        "kept = {k: r.faithfulness(lx.Circuit(g, 'node', ranked[:k])) for k in (10, 40, 160)}\n"
        "for k, f in kept.items():\n"
        "    print(f\"the {k:3d} strongest nodes of {len(ranked)}: faithfulness {f:+.3f}\")\n"
        "counts, values = view.curve['counts'], view.curve['values']\n"
        "half = next(c for c, v in zip(counts, values) if v >= 0.5)\n"
        "print(f\"edges: the top {half:,} of {r.n_edges:,} are the first count on the curve that keeps half the behaviour\")\n"
        "assert abs(kept[10]) < 0.1 and kept[160] > 0.5"
    ),
    new_markdown_cell(
        "The ten nodes that matter most, alone, keep almost none of the behaviour: each is *necessary*, "
        "but the task also needs many small contributions that no single run flags. A large circuit can "
        "be faithful and still include parts that do nothing (faithfulness says nothing about minimality), "
        "and a small circuit of high scorers can be unfaithful. Report the curve, not one circuit.\n\n"
        "**The metric is a choice.** Log-probability and probability of the same answer weigh the same runs "
        "differently (probability saturates), and the ranking moves:"
    ),
    new_code_cell(
        "by_prob = lx.circuit(model, task, metric='prob')\n"
        "a = set(np.argsort(-np.abs(r.node_scores[1:]))[:20])\n"
        "b = set(np.argsort(-np.abs(by_prob.node_scores[1:]))[:20])\n"
        "print(f\"{len(a & b)} of the 20 strongest nodes by log-probability are among the 20 strongest by probability\")\n"
        "assert len(a & b) <= 15  # the ranking moves"
    ),
    new_markdown_cell(
        "**A task is not a mechanism.** These are four pairs of one construction. A circuit found here is a "
        "hypothesis about induction in this model; test it on other lengths, other corruptions and other "
        "metrics before calling it *the* induction circuit.\n\n"
        "For a paper: `view.save('circuit.pdf')` (vector, the edges the slider shows), "
        "`view.save('circuit.html')` (an offline page; its slider answers at every count computed)."
    ),
]

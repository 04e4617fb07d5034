"""The cells of examples/locate_a_fact.ipynb (written by scripts/make_examples.py).

Every sentence that states what the numbers show is either printed from the numbers or checked
by an ``assert`` in the cell below it, so the lesson fails its test if the model says otherwise."""

from nbformat.v4 import new_code_cell, new_markdown_cell

LOCATE = [
    new_markdown_cell(
        "# Locate a fact: causal tracing and activation patching\n\n"
        "Attention, attribution and the logit lens show what *goes together* with a prediction. This "
        "lesson asks a causal question instead: **if we break the model's input and then repair one "
        "activation, does the answer come back?** Where a repair brings it back, that activation carries "
        "what the model needs. This is causal tracing (Meng et al. 2022, the first step of the ROME model "
        "edit) and activation patching (the core of circuit analysis).\n\n"
        "Everything runs offline on the bundled SmolLM2-135M (30 layers)."
    ),
    new_code_cell(
        "import numpy as np\n"
        "import llmxai_widgets as lx\n\n"
        "model = lx.load_model()"
    ),
    new_markdown_cell(
        "## Causal tracing\n\n"
        "Three runs of *The Eiffel Tower is located in the city of*:\n\n"
        "1. the **clean** run, which predicts *Paris*;\n"
        "2. a **corrupted** run: Gaussian noise is added to the input embeddings of the subject "
        "(*Eiffel Tower*), three times the typical spread of an embedding, so the model no longer knows "
        "which landmark this is;\n"
        "3. for every layer and token, the corrupted run with **one** activation put back to its clean "
        "value. Each cell below is the probability of *Paris* in that repaired run.\n\n"
        "The left grid repairs the residual stream after a layer; the middle and right grids repair "
        "what the MLPs and the attention wrote, in a window of layers around the column (one layer alone "
        "moves much less, as a cell below checks). Rows are tokens, columns are layers. The first picture is "
        "a *linear estimate* of every cell (one forward and one backward pass); exact values replace it layer by layer "
        "(columns marked ≈ are still estimates). Hover a cell for its value; click one to see what the "
        "repaired run predicts."
    ),
    new_code_cell(
        'trace = lx.CausalTraceView(model, "The Eiffel Tower is located in the city of", "Eiffel Tower", " Paris",\n'
        "                           samples=2, window=6)\n"
        "trace"
    ),
    new_code_cell(
        "trace.wait()\n"
        "r = trace.result\n"
        "print(f\"clean p(Paris) = {r.clean_prob:.3f}, corrupted = {r.corrupted_prob:.3f}\")\n"
        "early = r.scores['residual'][:10]\n"
        "layer, token = np.unravel_index(np.nanargmax(early), early.shape)\n"
        "print(f\"early layers: repairing {r.tokens.text[token]!r} (token {token}) after layer {layer} gives \"\n"
        "      f\"p = {early[layer, token]:.3f}\")\n"
        "late = r.scores['residual'][-1]\n"
        "print(f\"after the last layer, repairing the last token gives p = {late[-1]:.3f}\")\n"
        "assert r.clean_prob > 0.5 and r.corrupted_prob < 0.05  # the fact is there, and the noise hides it\n"
        "assert r.subject[0] <= token < r.subject[1]  # early on, the subject's own tokens carry it\n"
        "assert abs(late[-1] - r.clean_prob) < 1e-4  # at the end, only the last token matters\n"
        "subject = r.scores['residual'][:, r.subject[0]:r.subject[1]].max(axis=1)  # the subject's best token, per layer\n"
        "assert subject[10:20].min() > 0.2 and r.scores['residual'][-5:, -1].min() > 0.4  # two bright places"
    ),
    new_markdown_cell(
        "The picture has two bright places, as in the paper: the **subject's tokens in the early and "
        "middle layers** (the cell printed above), and the **last token in the late layers**. Somewhere "
        "in between, information about the subject is moved from the subject's position to the position "
        "that predicts the next word. The MLP grid shows which layers' MLPs, when repaired together, bring "
        "the fact back at the subject; the attention grid shows where attention moves it to the end."
    ),
    new_code_cell(
        "mlp = r.scores['mlp']\n"
        "layer_mlp, token_mlp = np.unravel_index(np.nanargmax(mlp[:, :r.subject[1]]), mlp[:, :r.subject[1]].shape)\n"
        "attn = r.scores['attention'][:, -1]\n"
        "print(f\"strongest MLP window at the subject: around layer {layer_mlp} (token {r.tokens.text[token_mlp]!r}), \"\n"
        "      f\"p = {mlp[layer_mlp, token_mlp]:.3f}\")\n"
        "print(f\"strongest attention window at the last token: around layer {int(np.nanargmax(attn))}, \"\n"
        "      f\"p = {np.nanmax(attn):.3f}\")\n"
        "assert layer_mlp < int(np.nanargmax(attn))  # MLPs at the subject act before attention moves it to the end\n"
        "assert min(mlp[layer_mlp, token_mlp], np.nanmax(attn)) > 10 * r.corrupted_prob  # both bring the fact back\n"
        "# why windows: the same trace repairing one MLP at a time\n"
        "single = lx.causal_trace(model, \"The Eiffel Tower is located in the city of\", \"Eiffel Tower\", \" Paris\",\n"
        "                         samples=2, window=1, kinds='mlp').scores['mlp'][:, :r.subject[1]]\n"
        "print(f\"one MLP alone at the subject: at most p = {np.nanmax(single):.3f}\")\n"
        "assert np.nanmax(single) < 0.75 * mlp[layer_mlp, token_mlp]"
    ),
    new_markdown_cell(
        "## Activation patching: two prompts, two answers\n\n"
        "Noise is a blunt tool. Activation patching replaces it with a second, *meaningful* prompt of the "
        "same length: *The Colosseum is in the city of* predicts *Rome*. We patch clean activations "
        "(from the Eiffel Tower prompt) into the Colosseum run and measure "
        "logit(*Paris*) − logit(*Rome*), scaled so **0 = the corrupted run and 1 = the clean run**. Red "
        "cells bring *Paris* back. Beside the residual stream (add `'attention', 'mlp'` to `sites=` for their grids too), every query head's output and every key/value "
        "head (SmolLM2 shares 3 key/value heads among its 9 query heads; each is patched once, for every "
        "query head that reads it). The *Direction* menu switches to **noising**: corrupted activations "
        "put into the clean run, which asks whether a site is *necessary* rather than *sufficient*."
    ),
    new_code_cell(
        'patching = lx.PatchingView(model, "The Eiffel Tower is in the city of", "The Colosseum is in the city of",\n'
        '                           answers=(" Paris", " Rome"), sites=("residual", "heads"))\n'
        "patching"
    ),
    new_code_cell(
        "patching.wait()\n"
        "p = patching.result\n"
        "resid = p.scores['residual']\n"
        "moved = int(np.argmax(resid[:, -1] > 0.5))\n"
        "print(f\"the last token's residual stream carries most of the answer from layer {moved} on \"\n"
        "      f\"({resid[moved, -1]:.2f}); before that the subject's tokens do\")\n"
        "heads = p.scores['heads']\n"
        "hl, hh = np.unravel_index(np.argmax(heads), heads.shape)\n"
        "kl, kh = np.unravel_index(np.argmax(p.scores['kv_heads']), p.scores['kv_heads'].shape)\n"
        "print(f\"strongest query head: layer {hl} head {hh} ({heads[hl, hh]:.2f}); \"\n"
        "      f\"strongest key/value head: layer {kl} kv {kh} ({p.scores['kv_heads'][kl, kh]:.2f})\")\n"
        "assert (resid[moved:, -1] > 0.5).all() and resid[:moved, p.first_difference:4].max(axis=1).min() > 0.5 and moved > 10"
    ),
    new_markdown_cell(
        "## Where this misleads\n\n"
        "**The noise scale is a choice.** With much less noise the corrupted model still recognises the "
        "subject, there is little to repair, and the grid goes flat; with much more, the corrupted run "
        "is far from anything the model saw in training."
    ),
    new_code_cell(
        "gentle = lx.causal_trace(model, \"The Eiffel Tower is located in the city of\", \"Eiffel Tower\", \" Paris\",\n"
        "                         noise=0.02, samples=2, kinds='residual')\n"
        "print(f\"corrupted p(Paris): {gentle.corrupted_prob:.3f} with noise 0.02, {r.corrupted_prob:.3f} with 3 sigma \"\n"
        "      f\"({r.noise_scale:.3f})\")\n"
        "flat = np.nanmax(gentle.scores['residual']) - np.nanmin(gentle.scores['residual'])\n"
        "print(f\"with noise 0.02 every repaired run gives p(Paris) within a range of {flat:.2f}\")\n"
        "assert gentle.corrupted_prob > 0.8 * gentle.clean_prob and flat < 0.2  # little to repair: a flat grid"
    ),
    new_markdown_cell(
        "**Corrupted runs are out of distribution.** Noisy embeddings (or a swapped subject) can break "
        "the model in ways a real input never would; a repair can look important because it undoes "
        "damage the corruption caused elsewhere. `noise=\"resample\"` replaces the subject with other "
        "real subjects of the same length, which stays closer to real text.\n\n"
        "**The estimate is only linear.** Attribution patching's first picture is a first-order "
        "approximation; it is good where the effect is small and smooth and wrong where a repair flips "
        "the answer. Compare it with the exact values:"
    ),
    new_code_cell(
        "exact, estimate = p.scores['residual'], p.estimate['residual']\n"
        "gap = np.abs(exact - estimate)\n"
        "worst = np.unravel_index(np.nanargmax(gap), exact.shape)\n"
        "print(f\"largest gap: layer {worst[0]}, token {p.clean.text[worst[1]]!r}: exact {exact[worst]:.2f}, \"\n"
        "      f\"estimate {estimate[worst]:.2f}\")\n"
        "small = np.abs(exact) < 0.1\n"
        "print(f\"largest gap where the exact effect is under 0.1: {np.nanmax(gap[small]):.2f}\")\n"
        "assert gap[worst] > 0.2 and exact[worst] > 0.5  # far off where a repair brings the answer back\n"
        "assert np.nanmax(gap[small]) < 0.15  # close where the effect is small"
    ),
    new_markdown_cell(
        "**One prompt is not a mechanism.** These grids describe one sentence. Before claiming that "
        "\"layer 23 looks up cities\", repeat the trace on many facts, and check that the effect survives "
        "a different corruption and a different metric (the *Metric* menu).\n\n"
        "Every view saves its figure for a paper: `trace.save('trace.pdf')`, `patching.save('patching.svg')`."
    ),
]

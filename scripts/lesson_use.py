"""The cells of examples/use_the_inside.ipynb (written by scripts/make_examples.py).

Every sentence that states what the numbers show is either printed from the numbers or checked
by an ``assert`` in the cell below it, so the lesson fails its test if the model says otherwise."""

from nbformat.v4 import new_code_cell, new_markdown_cell

USE = [
    new_markdown_cell(
        "# Use what is inside: probes, steering vectors and a fact edit\n\n"
        "The earlier lessons looked inside one prediction. This one *uses* what is inside, three ways:\n\n"
        "1. **Probe**: train a linear classifier on a layer's residual stream to ask what that layer "
        "*encodes* (tense, sentiment, language).\n"
        "2. **Steer**: add a direction found from contrasting texts to the residual stream while the model "
        "writes, and watch the text change.\n"
        "3. **Edit**: change one MLP weight matrix by a rank-one update (ROME) so the model states a "
        "different fact, and measure what else changed.\n\n"
        "Each one can mislead; each section ends with how. Everything runs offline on the bundled "
        "SmolLM2-135M."
    ),
    new_code_cell(
        "import numpy as np\n"
        "import llmxai_widgets as lx\n\n"
        "model = lx.load_model()"
    ),
    new_markdown_cell(
        "## 1. Probes: what can be read from a layer\n\n"
        "48 sentences written for the package, half in the past tense and half in the present. For each "
        "block, a logistic regression reads the residual stream after it (averaged over each sentence's "
        "tokens) and predicts the tense. Every sentence is predicted by a probe trained **without** it "
        "(5 folds), so the accuracy is held out. Click a layer to see its confusion table and the sentences "
        "it gets wrong."
    ),
    new_code_cell(
        "probe = lx.ProbeView(model, dataset='tense', position='mean')\n"
        "probe"
    ),
    new_code_cell(
        "probe.wait()\n"
        "tense = probe.result\n"
        "best = tense.best_layer()\n"
        "print(f\"block 0: {tense.accuracy[0]:.2f}, best: block {best} with {tense.accuracy[tense.row(best)]:.2f} \"\n"
        "      f\"(chance {tense.chance:.2f})\")\n"
        "assert len(tense.texts) == 48 and tense.chance == 0.5 and tense.folds == 5  # the set-up described above\n"
        "assert tense.accuracy[0] < 0.7 and tense.accuracy[tense.row(best)] >= 0.95 and 5 <= best <= 25"
    ),
    new_markdown_cell(
        "Right after the embeddings the probe does little better than chance; in the middle blocks it reads "
        "tense almost perfectly. The model has built a representation from which tense is *linearly "
        "decodable*.\n\n"
        "### Where it misleads: decodable is not used\n\n"
        "A probe shows that the information is *there*, not that the model *uses* it. It can even be there "
        "before the model has computed anything. Probe for the language of a sentence (English, French, "
        "German, Spanish) at block 0:"
    ),
    new_code_cell(
        "language = lx.probe(model, *lx.probe_datasets.load('language'), position='mean', layers=[0, 15, 29])\n"
        "print(language.to_table())\n"
        "assert sorted(language.classes) == ['English', 'French', 'German', 'Spanish'] and language.accuracy[0] > 0.9"
    ),
    new_markdown_cell(
        "At block 0 the residual stream is only the sum of the token embeddings, and the probe already names "
        "the language: the words themselves give it away. A high probe score says the label can be read "
        "from the layer; whether any later block reads it there takes an intervention (patching, steering, "
        "an edit) to show.\n\n"
        "### Where it misleads: a probe can memorise\n\n"
        "Read the last token only and train the same probe on **sentiment**. The *control task* (Hewitt & "
        "Liang 2019) gives every word type a random label and trains the same probe on that: whatever it "
        "scores there comes from memorising word types, not from sentiment. The gap is the *selectivity*."
    ),
    new_code_cell(
        "sentiment = lx.probe_datasets.load('sentiment')\n"
        "last = lx.probe(model, *sentiment, position='last')\n"
        "mean = lx.probe(model, *sentiment, position='mean')\n"
        "for name, r in (('last token', last), ('mean over tokens', mean)):\n"
        "    i = r.row(r.best_layer())\n"
        "    print(f\"{name:16s} best accuracy {r.accuracy[i]:.2f} at block {r.layers[i]:2d}, control \"\n"
        "          f\"{r.control_accuracy[i]:.2f}, selectivity {r.selectivity[i]:+.2f}; \"\n"
        "          f\"largest selectivity anywhere {np.nanmax(r.selectivity):+.2f}\")\n"
        "ends = [model.tokenize(text).text[-1] for text in sentiment[0]]\n"
        "print(f\"{sum(end in ('.', '!', '?') for end in ends)} of {len(ends)} sentences end in '.', '!' or '?'\")\n"
        "assert np.nanmax(last.selectivity) < 0.15 < 0.3 < np.nanmax(mean.selectivity)\n"
        "assert abs(np.mean([end in ('.', '!', '?') for end in ends]) - 1 / 3) < 0.05"
    ),
    new_markdown_cell(
        "At the last token the probe's best accuracy is barely above its control: a probe that learns a random "
        "label for each word type scores almost as well there (a third of the sentences end in the same three "
        "tokens, `.`, `!` and `?`), so that accuracy alone does not show that the layer encodes sentiment. "
        "Averaged over the tokens, the gap is large. Always report the control next to the accuracy.\n\n"
        "## 2. Steering: push the residual stream along a direction\n\n"
        "Twelve pairs of sentences that differ in one word, *love* or *hate* (\"I love this film. Honestly, "
        "it is\" / \"I hate this film. Honestly, it is\"). The mean difference of their residual streams after "
        "block 12 is a **steering vector**. Adding α times it after block 12, at every token, while the model "
        "writes (activation addition) pushes the text toward one side. Each column below is the greedy "
        "continuation for one α; a token's colour is where block 12's own output at that token lies along "
        "the direction (before the vector is added)."
    ),
    new_code_cell(
        "from llmxai_widgets.methods.use import pairs\n\n"
        "vector = lx.steering_vector(model, *pairs.load('sentiment'), layers=[12])\n"
        "print(vector)\n"
        "assert vector.n_pairs == 12\n"
        "steering = lx.SteeringView(model, vector, 'I went to the new cafe yesterday. The food was',\n"
        "                           alphas=[-8, -4, 0, 4, 8], max_new_tokens=24, concept=[' great', ' good', ' delicious'])\n"
        "steering"
    ),
    new_code_cell(
        "steering.wait()\n"
        "for column in steering.columns:\n"
        "    print(f\"alpha {column['alpha']:+4.0f}: {''.join(column['tokens'])!r}\")\n\n"
        "# does the push survive the 17 blocks above it? prompts the vector never saw\n"
        "import torch\n"
        "held_out = ['I think the new restaurant is', 'The service at the bank was', 'Our trip to the coast was',\n"
        "            'That new album is']\n"
        "alphas = [-4, -2, 0, 2, 4]\n"
        "u = torch.as_tensor(vector.unit(12))\n"
        "for prompt in held_out:\n"
        "    ids = torch.as_tensor(model.tokenize(prompt).ids)[None].repeat(len(alphas), 1)\n"
        "    with lx.steer(model, vector, alphas), torch.no_grad():\n"
        "        hidden = model.model(ids, output_hidden_states=True).hidden_states[model.n_layers - 1][:, -1]\n"
        "    along = (hidden @ u).numpy()\n"
        "    print(f\"{prompt!r:34s} last block's input along the direction: {np.round(along, 1)}\")\n"
        "    assert np.all(np.diff(along) > 0)\n"
        "text = {c['alpha']: ''.join(c['tokens']) for c in steering.columns}\n"
        "assert 'happy' in text[4] and all('amazing' in text[a] and 'but' in text[a] for a in (-4, -8))"
    ),
    new_markdown_cell(
        "Positive α leans the continuation toward the *love* side (at α = +4 the writer is *happy*), negative "
        "α away from it (the food is still *amazing*, *but*...), and on prompts "
        "the vector never saw, the last block's input lies further along the direction the larger α is: the "
        "push survives every block above the one it was added at.\n\n"
        "### Where it misleads: steering is not a dial, and it breaks fluency\n\n"
        "The chart in the view shows the probability that the next word is *great*, *good* or *delicious* "
        "for α on a fine grid. It does not simply rise with α; and a large α makes the model repeat itself."
    ),
    new_code_cell(
        "curve = dict(zip(steering.curve['alphas'], steering.curve['probability']))\n"
        "peak = max(curve, key=curve.get)\n"
        "print(f\"P(concept): alpha -8 {curve[-8]:.3f}, 0 {curve[0]:.3f}, peak {curve[peak]:.3f} at alpha {peak:+.1f}, \"\n"
        "      f\"+8 {curve[8]:.3f}\")\n\n"
        "def repeated(tokens, n=3):\n"
        "    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]\n"
        "    return 1 - len(set(grams)) / len(grams)\n\n"
        "repeats = {c['alpha']: repeated(c['tokens']) for c in steering.columns}\n"
        "print('share of repeated 3-token spans:', {a: round(r, 2) for a, r in repeats.items()})\n"
        "assert curve[-8] < curve[0] < curve[peak] and 0 < peak < 8 and curve[8] < curve[peak]\n"
        "assert max(repeats, key=repeats.get) == 8 and repeats[8] > repeats[0]  # +8 repeats itself the most"
    ),
    new_markdown_cell(
        "The concept's probability rises from α = −8 to a peak between 0 and +8, then falls again, and at "
        "α = +8 the model repeats itself more than at any other α. A steering vector is a direction in one "
        "layer, not a knob for one idea; check the text, not only the number you steered for.\n\n"
        "## 3. Editing a fact\n\n"
        "ROME (Meng et al. 2022) treats one MLP as a key-value memory: at the subject's last token the MLP's "
        "hidden activation (the key) is mapped by its output projection to a vector that the blocks above turn "
        "into the fact. The edit finds a value that makes the model say the new answer and changes the output "
        "projection by a **rank-one** update so that this key maps to it. Which block? Causal tracing picks "
        "the one whose MLP restores the answer most at the subject's last token. The view compares the new "
        "and old answers' probabilities before and after on the prompt, paraphrases and *neighbours* (other "
        "subjects whose answer is the old one). The model itself is unchanged until you press *Apply*."
    ),
    new_code_cell(
        "fact = lx.edit_facts.FACTS[1]\n"
        "print(fact.prompt, '->', repr(fact.target), 'becomes', repr(fact.new_target))\n"
        "editor = lx.EditView(model, fact=fact)\n"
        "editor"
    ),
    new_code_cell(
        "editor.wait()\n"
        "colosseum = editor.result\n"
        "print(f\"block {colosseum.layer}: {colosseum.layer_from}\")\n"
        "print(editor.scores)\n"
        "for g in editor.generations:\n"
        "    print(f\"{g['kind']:10s} before: {g['before']!r}\\n{'':10s} after:  {g['after']!r}\")\n"
        "assert editor.scores['efficacy'] == 1.0 and editor.scores['generalisation'] == 1.0\n"
        "assert all(g['after'].startswith(' London') for g in editor.generations if g['kind'] != 'neighbour')"
    ),
    new_markdown_cell(
        "The edit takes: the prompt and its paraphrases now continue with *London*, and the model goes on "
        "to describe the Colosseum as something in London. It did not move the building; it changed what one "
        "key maps to, and the model builds the rest of the story around it.\n\n"
        "### Where it misleads: scores that count winners hide the bleed\n\n"
        "CounterFact's *specificity* counts the neighbour prompts that still prefer the old answer. Edit "
        "\"The official language of Mexico is *Spanish*\" to *Japanese* and look at the neighbours' "
        "probabilities, not only at who wins:"
    ),
    new_code_cell(
        "mexico = lx.edit_facts.FACTS[4]\n"
        "edited = lx.edit(model, mexico.prompt, mexico.subject, mexico.new_target)\n"
        "evaluation = mexico.evaluate(edited)\n"
        "print(evaluation.table())\n"
        "kept = [r.p_old_after / r.p_old_before for r in evaluation.of('neighbour')]\n"
        "print(f\"specificity {evaluation.specificity:.2f}, yet the neighbours keep between {min(kept):.0%} and \"\n"
        "      f\"{max(kept):.0%} of their probability of {evaluation.old_target!r}\")\n"
        "assert evaluation.specificity == 1.0 and len(kept) == 4 and sum(k < 0.5 for k in kept) == 3\n"
        "changed = [r.top_after for r in evaluation.of('neighbour') if r.top_after != r.top_before]\n"
        "assert changed and all(top.strip() in ('a', 'an', 'the') for top in changed), changed"
    ),
    new_markdown_cell(
        "Specificity is perfect, yet three of the four other Spanish-speaking countries lose most of their "
        "probability of *Spanish*: the edit bled into prompts that share the relation, and the top token of "
        "some of them is no longer *Spanish* but a filler word. Report the probabilities (the view's bars), not only the share of "
        "winners, and test neighbours that share the relation as well as the answer.\n\n"
        "`editor.result.apply()` (or the view's *Apply* button) writes the edit into the model; every open "
        "view of the model then says its picture predates the change. `editor.result.revert()` restores the "
        "weight bit for bit. Every view here saves its figure (`probe.save('probe.pdf')`, "
        "`steering.save('steering.svg')`, `editor.save('edit.png')`)."
    ),
]

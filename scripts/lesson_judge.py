"""The cells of examples/judge_an_explanation.ipynb (written by scripts/make_examples.py).

Every sentence that states what the numbers show is either printed from the numbers or checked
by an ``assert`` in the cell below it, so the lesson fails its test if the model says otherwise."""

from nbformat.v4 import new_code_cell, new_markdown_cell

JUDGE = [
    new_markdown_cell(
        "# Judge an explanation: is it faithful, is it plausible?\n\n"
        "An attribution method colours each token by how much it mattered. But two methods often colour the "
        "same prediction differently, and a heatmap that *looks* right can be wrong. This lesson asks the two "
        "questions the interpretability literature asks of every explanation:\n\n"
        "- **Faithful**: does removing what the explanation calls important change the model's output? "
        "(ERASER's comprehensiveness and sufficiency, deletion and insertion curves.)\n"
        "- **Plausible**: does it agree with what a *person* says matters? (ERASER's token F1, IOU F1, AUPRC.)\n\n"
        "They are different questions: an explanation can convince people and still not be what the model "
        "uses. Everything runs offline on the bundled SmolLM2-135M."
    ),
    new_code_cell(
        "import numpy as np\n"
        "import llmxai_widgets as lx\n\n"
        "model = lx.load_model()\n"
        "text, answer = 'The Eiffel Tower is a famous landmark located in the city of', ' Paris'\n"
        "print(model.tokenize(text).text)"
    ),
    new_markdown_cell(
        "## 1. Predict first\n\n"
        "Before looking at any scores: which tokens made the model say *Paris*? The view below starts with the "
        "scores hidden. **Click the tokens you think mattered, then press Reveal.** Your marks are scored two "
        "ways: how well the method agrees with you (plausibility), and how faithful *your* choice is: how "
        "much *Paris* loses when your tokens are removed (comprehensiveness) or when only they are kept "
        "(sufficiency), beside the same numbers for the method's own top tokens."
    ),
    new_code_cell(
        "guess = lx.AttributionView(model, text, target=answer, method='occlusion', guess=True)\n"
        "guess"
    ),
    new_markdown_cell(
        "The same scoring from Python, for a reader who marks *E*, *iffel*, *Tower* and *city* (token "
        "positions 1, 2, 3 and 11):"
    ),
    new_code_cell(
        "occlusion = lx.attribute(model, text, target=answer, method='occlusion')\n"
        "mine = lx.score_rationale(model, occlusion, [1, 2, 3, 11])\n"
        "print(f\"p(Paris) = {mine.full:.3f}; without my 4 tokens {mine.without:.3f}, with only them {mine.only:.3f}\")\n"
        "print(f\"the method's top 4: {[occlusion.tokens.text[i] for i in mine.plausibility.predicted]}, \"\n"
        "      f\"p without them {mine.method_without:.3f}\")\n"
        "print(f\"agreement with me: token F1 {mine.plausibility.token_f1:.2f}, AUPRC {mine.plausibility.auprc:.2f}\")\n"
        "assert mine.without < mine.full / 2  # the reader's tokens do carry the prediction"
    ),
    new_markdown_cell(
        "Removing the reader's four tokens more than halves the probability of *Paris*: a sensible guess. The "
        "lines above say whether the method's own top four do better.\n\n"
        "## 2. Faithfulness of one method\n\n"
        "Rank the tokens by the method's scores. **Comprehensiveness** at a bin (1, 5, 10, 20, 50% of the "
        "tokens, at least one) is the drop in p(Paris) when the top tokens are removed; **sufficiency** the drop "
        "when *only* they are kept. AOPC averages over the bins. **Deletion** and **insertion** curves remove "
        "the top tokens one by one (or put them back into an empty text); their areas summarise them.\n\n"
        "A score means nothing alone: beside it stand a **random ranking** (the mean of 10) and the "
        "**leave-one-out oracle** (tokens ranked by how much removing each one alone costs)."
    ),
    new_code_cell(
        "faith = lx.faithfulness(model, occlusion)\n"
        "print(faith.table())\n"
        "t = faith.targets[0]\n"
        "assert t.explanation.aopc_comprehensiveness > t.random.aopc_comprehensiveness + 0.2\n"
        "assert t.explanation.deletion_auc < t.random.deletion_auc and t.explanation.insertion_auc > t.random.insertion_auc"
    ),
    new_markdown_cell(
        "Occlusion is far more comprehensive than a random ranking, its deletion curve falls faster and its "
        "insertion curve rises faster. That is no surprise: occlusion *is* a removal experiment, so it is "
        "nearly the oracle here.\n\n"
        "## 3. Compare methods on the same prediction\n\n"
        "`EvaluationView` runs several methods and evaluates each; the table and curves fill in as each is "
        "done, and the matrix at the bottom shows how much the methods agree on the ranking. Switch the "
        "agreement measure in the menu (Spearman, Kendall, top-3 overlap)."
    ),
    new_code_cell(
        "methods = ['occlusion', 'saliency', 'input_x_gradient', 'attention_rollout']\n"
        "rationale = [1, 2, 3, 11]  # the reader's tokens: E, iffel, Tower, city\n"
        "compare = lx.EvaluationView(model, text, target=answer, methods=methods, rationale=rationale)\n"
        "compare"
    ),
    new_code_cell(
        "compare.wait()\n"
        "results = compare.results\n"
        "faith = {r.method: f.targets[0] for r, f in zip(results, compare.faithfulness_results)}\n"
        "random = faith['occlusion'].random\n"
        "for name, f in faith.items():\n"
        "    verdict = 'beats' if f.explanation.aopc_comprehensiveness > random.aopc_comprehensiveness else 'is below'\n"
        "    print(f\"{name:18s} AOPC comprehensiveness {f.explanation.aopc_comprehensiveness:.3f}: {verdict} random \"\n"
        "          f\"({random.aopc_comprehensiveness:.3f})\")\n"
        "for name in ('input_x_gradient', 'attention_rollout'):\n"
        "    assert faith[name].explanation.aopc_comprehensiveness < random.aopc_comprehensiveness, name\n"
        "for name in ('occlusion', 'saliency'):\n"
        "    assert faith[name].explanation.aopc_comprehensiveness > random.aopc_comprehensiveness + 0.2, name"
    ),
    new_markdown_cell(
        "Occlusion and saliency beat random by a wide margin; **input x gradient and attention rollout do worse "
        "than a random ranking** on this prediction. A heatmap is a claim, and these two claims fail the test. "
        "(Attention rollout reads attention weights; that a token is attended to does not make it matter.)\n\n"
        "Sufficiency barely separates the methods here:"
    ),
    new_code_cell(
        "for name, f in faith.items():\n"
        "    print(f\"{name:18s} AOPC sufficiency {f.explanation.aopc_sufficiency:.3f} (random {random.aopc_sufficiency:.3f})\")\n"
        "assert all(abs(f.explanation.aopc_sufficiency - random.aopc_sufficiency) < 0.1 for f in faith.values())"
    ),
    new_markdown_cell(
        "Every method's sufficiency is within 0.1 of random. Keeping only the top 1-7 tokens of a 13-token text "
        "leaves a fragment so far from anything the model saw in training that p(Paris) collapses whichever "
        "tokens they are. **This is where removal metrics mislead**: a drop can come from a broken, "
        "out-of-distribution text rather than from lost information.\n\n"
        "## 4. Do the methods agree?"
    ),
    new_code_cell(
        "agree = lx.agreement(results)\n"
        "print(agree.table('spearman'))\n"
        "i, j = methods.index('occlusion'), methods.index('input_x_gradient')\n"
        "assert agree.spearman[i, j] < 0  # more disagreement than agreement on the order"
    ),
    new_markdown_cell(
        "Occlusion and input x gradient rank the same tokens with a *negative* rank correlation: where one puts "
        "a token high, the other tends to put it low. Two popular methods, the same prediction, conflicting "
        "stories: without a faithfulness check there is no way to know which heatmap to believe.\n\n"
        "## 5. Plausible is not faithful"
    ),
    new_code_cell(
        "plaus = {r.method: lx.plausibility(r, rationale) for r in results}\n"
        "for name in methods:\n"
        "    print(f\"{name:18s} token F1 {plaus[name].token_f1:.2f}  AUPRC {plaus[name].auprc:.2f}  \"\n"
        "          f\"insertion AUC {faith[name].explanation.insertion_auc:.3f}\")\n"
        "assert plaus['saliency'].token_f1 > plaus['occlusion'].token_f1\n"
        "assert faith['occlusion'].explanation.insertion_auc > faith['saliency'].explanation.insertion_auc"
    ),
    new_markdown_cell(
        "Saliency agrees with the reader better than occlusion does (higher token F1), yet occlusion's top tokens "
        "bring *Paris* back faster when put into an empty text (higher insertion area). The explanation that "
        "looks most like a person's reasoning is not the one that best describes the model.\n\n"
        "## 6. One prompt is an anecdote\n\n"
        "A faithfulness score of a single prediction is noisy. The package ships 30 prompts written for this "
        "(`llmxai_widgets.methods.evaluate.prompts.PROMPTS`); `benchmarks/faithfulness.py` runs every method on "
        "all of them (the table is in the README). Here are six, for occlusion, saliency and random:"
    ),
    new_code_cell(
        "from llmxai_widgets.methods.evaluate.prompts import PROMPTS\n\n"
        "scores = {'occlusion': [], 'saliency': [], 'random': []}\n"
        "for prompt, word in PROMPTS[:6]:\n"
        "    for name in ('occlusion', 'saliency'):\n"
        "        r = lx.attribute(model, prompt, target=word, method=name)\n"
        "        f = lx.faithfulness(model, r, baselines=('random',) if name == 'occlusion' else ()).targets[0]\n"
        "        scores[name].append(f.explanation.aopc_comprehensiveness)\n"
        "        if name == 'occlusion':\n"
        "            scores['random'].append(f.random.aopc_comprehensiveness)\n"
        "means = {k: float(np.mean(v)) for k, v in scores.items()}\n"
        "wins = sum(o > r for o, r in zip(scores['occlusion'], scores['random']))\n"
        "print(f\"mean AOPC comprehensiveness over 6 prompts: \" + \", \".join(f\"{k} {v:.3f}\" for k, v in means.items()))\n"
        "print(f\"occlusion beats random on {wins} of 6 prompts\")"
    ),
    new_markdown_cell(
        "## Where these numbers mislead\n\n"
        "- **Removal makes broken text.** Comprehensiveness and sufficiency measure the model on texts it never "
        "sees; `mode='replace'` (a neutral token in place of each removed one) changes the numbers, and neither "
        "is the truth.\n"
        "- **Occlusion grades itself.** Occlusion removes tokens to score them; a removal metric favours it.\n"
        "- **Leave-one-out misses teamwork.** Two tokens that each make the other redundant (a name written "
        "twice, say) each look unimportant when removed alone.\n"
        "- **Plausibility measures people, not the model.** A high token F1 says the explanation matches a "
        "reader's intuition, nothing more.\n\n"
        "**Try:** mark different tokens in the first view; switch its method to *integrated gradients* and "
        "open the **Evaluate** tab; pass `mode='replace'` to `lx.faithfulness` and compare."
    ),
]

"""Write the example notebooks from the cell sources below (run by hand after editing them).

Keeping the lessons here as plain Python strings keeps them reviewable in diffs; the .ipynb files
are committed without outputs.

Lessons teach: every sentence that states what this run's numbers show is either printed from the
numbers or checked by an ``assert`` in a code cell, so tests/test_examples.py fails when the model
says otherwise.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from lesson_circuits import CIRCUITS
from lesson_judge import JUDGE
from lesson_explorer import explorer_cells
from lesson_locate import LOCATE
from lesson_use import USE

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

QUICKSTART = [
    new_markdown_cell(
        "# Quickstart: what does a language model look at?\n\n"
        "This notebook runs offline on a laptop CPU. It uses **SmolLM2-135M-Instruct**, a small LLaMA-style "
        "model that ships inside a Python wheel, so no download is needed.\n\n"
        "A transformer builds each token's next representation by *attending* to the tokens before it: every "
        "layer has several **heads**, and each head gives every earlier token a weight between 0 and 1. A "
        "token's weights over the tokens it may read sum to 1. These weights are what the view below draws."
    ),
    new_code_cell(
        "import llmxai_widgets as lx\n\n"
        "model = lx.load_model()  # the bundled SmolLM2; the first call converts it once (~30 s)\n"
        "model"
    ),
    new_markdown_cell(
        "## One head's attention matrix\n\n"
        "Each **row** is a query token (the one doing the reading); each **column** is a key token (the one "
        "being read). Brighter means more weight. Grey cells above the diagonal are masked: a causal model "
        "never reads tokens that come later.\n\n"
        "Use the *Layer* and *Head* menus to move around; hover a cell to see the two tokens and the exact "
        "weight; click to pin it. SmolLM2 has 9 query heads that share 3 key/value heads: the menu shows "
        "which key/value head each query head reads (`kv 0`, `kv 1`, `kv 2`)."
    ),
    new_code_cell(
        'text = "The capital of France is Paris. The capital of Italy is Rome."\n'
        "view = lx.AttentionView(model, text, layer=3, head=0)\n"
        "view"
    ),
    new_markdown_cell(
        "## Things to try\n\n"
        "- Many heads put most of their weight on the **first token**, whatever it is. This is an *attention "
        "sink*: a place to park attention when there is nothing useful to read. It makes the rest of the "
        "matrix look dark; compare several heads before concluding a head ignores the text.\n"
        "- Some heads put their weight just left of the diagonal: they read the **previous token**.\n"
        "- In the repeated phrase *The capital of ...*, look for heads where the second *capital* reads the "
        "token after the first one (*of*): this is the signature of an **induction head**, which copies "
        "patterns seen earlier.\n\n"
        "You can also change the view from Python:"
    ),
    new_code_cell("view.show(layer=10, head=4)"),
    new_markdown_cell(
        "## Every head at once, and which heads do what\n\n"
        "The **Model view** tab shows all 30 x 9 heads as thumbnails (each scaled to its own maximum); "
        "click one to open it. The **Head summary** tab scores every head: how much weight it parks on the "
        "first token (*sink*), how much it reads the *previous token*, how spread out it is (*entropy*), and "
        "how strongly it behaves as an *induction head* (measured on a random sequence repeated twice). The "
        "ranked list opens a head on click.\n\n"
        "In the matrix, the *Head* menu also offers the **mean** and **max** over a layer's heads, "
        "**attention rollout** (how much each token's representation after this layer draws on each input "
        "token, counting the residual connection: the layers' mixing multiplied together) and **attention "
        "flow** (the same layers seen as pipes: how much could flow from each input token at most, limited by "
        "the narrowest layer on the way; a max flow per token pair, so it takes a few seconds and is offered up "
        "to 64 tokens). Both are estimates built from attention alone, with the same caveats as attention "
        "itself. When the first token dwarfs everything, tick *leave the "
        "first token out of the colour scale* or use the *log colour scale*. For long texts, zoom with the "
        "buttons (or Ctrl + mouse wheel), drag to pan, and type in *find token* to jump to a token."
    ),
    new_code_cell(
        "summary = lx.head_summary(model, text)\n"
        "summary.top('induction', 3)  # (layer, head, score), strongest first"
    ),
    new_code_cell(
        "# the patterns named under *Things to try*, counted on this text\n"
        "import numpy as np\n\n"
        "sink, previous = summary.sink, summary.previous_token  # [layer, head]\n"
        "print(f\"{(sink > 0.5).sum()} of {sink.size} heads put over half their weight on the first token, \"\n"
        "      f\"{(previous > 0.5).sum()} on the previous token\")\n"
        "tokens = view.result.tokens.text\n"
        "second_capital, first_of = tokens.index(' capital', 2), tokens.index(' of')\n"
        "copy = view.result.pattern[:, :, second_capital, first_of]  # [layer, head]\n"
        "layer, head = np.unravel_index(copy.argmax(), copy.shape)\n"
        "print(f\"layer {layer} head {head}: the second ' capital' puts {copy[layer, head]:.0%} of its weight on the \"\n"
        "      f\"first ' of' (induction score {summary.induction[layer, head]:.2f})\")\n"
        "assert (sink > 0.5).sum() > sink.size / 2, 'most heads should be sinks'\n"
        "assert (previous > 0.5).sum() >= 2, 'some heads should read the previous token'\n"
        "assert copy.max() > 0.5 and summary.induction[layer, head] > 0.5, 'an induction head should copy of'"
    ),
    new_markdown_cell(
        "## Where attention misleads\n\n"
        "Attention weights say where a head *reads*, not what the model *uses*: a head can read a token and "
        "then contribute almost nothing to the prediction, and information moves between positions across "
        "layers, so by layer 10 the vector at *Paris* is no longer about *Paris* alone: attention rollout "
        "credits the token *Paris* itself with under 1% of it, and almost all the rest to the first token, "
        "the sink again (checked below). Treat these pictures as hypotheses; attribution and ablation (later "
        "notebooks) test them.\n\n"
        "The numbers are available as arrays too: `pattern[layer, head, query, key]`."
    ),
    new_code_cell(
        "result = view.result\n"
        "print(result.pattern.shape, '-> layers, heads, query tokens, key tokens')\n"
        "print('row sums:', result.pattern[3, 0].sum(axis=-1).round(3))\n"
        "print('key/value head of each query head:', result.kv_group)\n"
        "assert result.pattern.shape[:2] == (30, 9) and result.kv_group.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]\n"
        "assert np.allclose(result.pattern.sum(axis=-1), 1, atol=1e-3), 'every row should sum to 1'\n"
        "assert np.triu(result.pattern, 1).max() == 0, 'no token should read a later one'"
    ),
    new_code_cell(
        "from llmxai_widgets.methods.attention_views import rollout\n\n"
        "paris = tokens.index(' Paris')\n"
        "mix = rollout(result, 10)[paris]  # how much the vector at Paris after layer 10 draws on each input token\n"
        "print(f\"after layer 10, ' Paris' draws {mix[paris]:.1%} on itself and {mix[0]:.1%} on the first token\")\n"
        "assert mix[paris] < 0.01 and mix[0] > 0.9, mix.round(3)"
    ),
    new_markdown_cell(
        "## Figures for a paper, a slide or a handout\n\n"
        "Every view saves itself without a browser: `.pdf` (fonts embedded, text searchable), `.svg` (labels stay "
        "text you can restyle), `.png`, or `.html` (a standalone page that works offline, with every layer and head "
        "of a short text inside). Sizes take units (`\"3.5in\"`, `\"252pt\"`, `\"9cm\"`); fonts, colour maps "
        "(`cividis` is safe for colour-blind readers), titles and token ranges are options. The *Export* buttons "
        "above each view download what is on screen, drawn by the same code. From a shell: "
        "`llmxai-widgets figure attention --text \"...\" --layer 10 --head 4 -o fig.pdf`."
    ),
    new_code_cell(
        'view.save("capital-layer10-head4.pdf", width="3.5in", title="SmolLM2, layer 10, head 4")\n'
        'view.save("capital.html")  # open it in any browser, offline\n'
        'view.figure(width="3.5in", colormap="cividis", tokens=(0, 8))  # a preview of a figure'
    ),
    new_markdown_cell(
        "## Bad input explains itself\n\n"
        "Asking for a layer the model does not have raises a clear error (and the view above shows it):"
    ),
    new_code_cell(
        "try:\n"
        "    view.layer = 42\n"
        "except Exception as err:\n"
        "    print(type(err).__name__, '-', err)\n"
        "else:\n"
        "    raise AssertionError('layer 42 should have been refused')"
    ),
]

PAIRS_AND_CROSS = [
    new_markdown_cell(
        "# Two texts at once: sentence pairs and translation\n\n"
        "Some models read two texts together. An **encoder** such as BERT reads a *sentence pair* (a question "
        "and a passage, or two sentences to compare) in one sequence: `[CLS] A [SEP] B [SEP]`, and every token "
        "may read every other token, earlier or later. An **encoder-decoder** such as T5 or BART reads a "
        "source text with its encoder, and its decoder writes the output while reading the source through "
        "**cross-attention**.\n\n"
        "This notebook runs offline: it uses **all-MiniLM-L6-v2** (a 6-layer BERT encoder shipped in a Python "
        "wheel) and a tiny T5 built on the spot."
    ),
    new_code_cell(
        "import llmxai_widgets as lx\n\n"
        "mini = lx.load_model('minilm')\n"
        "a = 'The cat sat on the mat because it was tired.'\n"
        "b = 'Why did the cat sit down?'\n"
        "pair = lx.AttentionView(mini, a, text_pair=b, layer=2, head=5)\n"
        "pair"
    ),
    new_markdown_cell(
        "## Which words of one sentence read the other?\n\n"
        "The matrix has no grey triangle: an encoder is not causal, so every token reads the whole pair. The "
        "*Show* menu limits the matrix to one sentence's queries reading one sentence's keys, for example "
        "**sentence A -> B**: rows are the words of the first sentence, columns the words of the question. "
        "The colour scale then covers only those cells, so weak links between the sentences become visible "
        "instead of being dwarfed by the rest. Rows no longer sum to 1 (the rest of each row's weight goes to "
        "its own sentence).\n\n"
        "The same from Python:"
    ),
    new_code_cell("pair.show(pair_filter='AB')"),
    new_code_cell(
        "# what the two pictures show, in numbers\n"
        "import numpy as np\n\n"
        "r = pair.result\n"
        "weights, segment = r.head(2, 5), r.tokens.segments  # segment: 0 = sentence A, 1 = sentence B\n"
        "a_to_b = weights[segment == 0][:, segment == 1]\n"
        "print(f'smallest weight in the matrix: {weights.min():.5f} (nothing is masked)')\n"
        "print('sentence A -> B row sums:', a_to_b.sum(axis=1).round(2))\n"
        "assert weights.min() > 0, 'every token should read the whole pair'\n"
        "assert a_to_b.sum(axis=1).max() < 0.5, 'most of each row should stay in its own sentence'"
    ),
    new_markdown_cell(
        "## Where BERT-style attention misleads\n\n"
        "Many heads of BERT-style encoders put most of their weight on `[SEP]` or `[CLS]` (Clark et al. 2019, "
        "*What Does BERT Look At?*), and MiniLM does too on this pair (counted below). Like the first-token "
        "sink of decoder models, that weight is often a "
        "place to park attention, not a sign that the separator matters. Compare heads in the **Head summary** "
        "tab before reading meaning into one picture, and try the *log colour scale*, which keeps small weights "
        "visible next to a dominant separator."
    ),
    new_code_cell(
        "on_special = r.pattern[..., r.tokens.special].sum(axis=-1).mean(axis=-1)  # [layer, head], on [CLS]/[SEP]\n"
        "print(f'{(on_special > 0.5).sum()} of {on_special.size} heads put over half their weight on [CLS] or [SEP]')\n"
        "assert (on_special > 0.5).sum() >= on_special.size / 4, 'many heads should park on the separators'"
    ),
    new_markdown_cell(
        "## Cross-attention in an encoder-decoder\n\n"
        "Next, an encoder-decoder. No translation model ships in a wheel, so we build a **tiny T5 with random "
        "weights** from a configuration: its pictures show the *mechanics* (what each axis means, how the "
        "parts connect), not learned alignments. With a trained model, for example "
        "`lx.load_model('t5-small')` where you have its weights, the same view shows which source words each "
        "output word reads."
    ),
    new_code_cell(
        "import torch\n"
        "from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration\n"
        "from llmxai_widgets.models import bundled\n\n"
        "torch.manual_seed(0)\n"
        "config = T5Config(vocab_size=49152, d_model=64, d_kv=16, d_ff=128, num_layers=3, num_decoder_layers=3,\n"
        "                  num_heads=4, decoder_start_token_id=0)\n"
        "t5 = lx.load_model(model=T5ForConditionalGeneration(config),\n"
        "                   tokenizer=AutoTokenizer.from_pretrained(bundled.smollm2_folder()), name_or_path='tiny-t5')\n"
        "translation = lx.AttentionView(t5, 'The house is wonderful.', target='Das Haus ist wunderbar.', layer=2)\n"
        "translation"
    ),
    new_markdown_cell(
        "Rows are the **decoder's tokens** (it reads its start token, then the target's tokens: teacher "
        "forcing), columns the **encoder's tokens**. The matrix is not square and nothing is greyed out: every "
        "output position may read the whole source. The *Attention* menu switches to the encoder's and the "
        "decoder's own self-attention (the decoder's is causal again). Leave out `target=` and the view shows "
        "the model's own greedy output instead.\n\n"
        "All three come from one forward pass, also as arrays:"
    ),
    new_code_cell(
        "parts = lx.encoder_decoder_attention(t5, 'The house is wonderful.', 'Das Haus ist wunderbar.')\n"
        "for name, result in parts.items():\n"
        "    print(f'{name:8s} pattern {result.pattern.shape}  queries: {len(result.tokens)}  keys: {len(result.keys)}')\n"
        "cross = parts['cross']\n"
        "assert cross.tokens.text == t5.decoder_tokens('Das Haus ist wunderbar.').text  # the start token, then the target\n"
        "assert cross.keys.text == parts['encoder'].tokens.text and len(cross.tokens) != len(cross.keys)\n"
        "assert cross.pattern.min() > 0 and np.triu(parts['decoder'].pattern, 1).max() == 0  # only the decoder is causal"
    ),
]

ATTRIBUTION = [
    new_markdown_cell(
        "# Which words made the model say that? Feature attribution\n\n"
        "Attention shows where a model *reads*; **attribution** asks which input tokens *changed the output*. "
        "Each method gives every input token a score for one output token: red tokens raised the output's "
        "log-probability, blue ones lowered it. Methods come in families:\n\n"
        "- **gradient-based** (saliency, input x gradient, integrated gradients): how the output changes for "
        "a tiny change of each token's embedding; fast, but local;\n"
        "- **perturbation-based** (occlusion, Shapley values, LIME): remove or replace tokens and watch the "
        "output; slower, and easier to read;\n"
        "- **vector-based** (attention x gradient, rollout, norm-based attention): built from the attention "
        "mechanism itself.\n\n"
        "Runs offline on the bundled SmolLM2."
    ),
    new_code_cell(
        "import numpy as np\n"
        "import llmxai_widgets as lx\n\n"
        "model = lx.load_model()\n"
        "view = lx.AttributionView(model, 'The capital of France is', generate=5, method='input_x_gradient')\n"
        "view"
    ),
    new_markdown_cell(
        "The outlined token is the one being explained. Click any generated (underlined) token to see what "
        "*it* drew on; the matrix below the text shows every generated token's row at once. The *Method* menu "
        "recomputes with another method in the background; the *Show* menu sums scores over words, sentences "
        "or chat turns.\n\n"
        "## Integrated gradients and its completeness check\n\n"
        "Integrated gradients adds up gradients along a path from a *baseline* input to the real one. Its "
        "scores should sum to the change of the output between the two (*completeness*). On real models the "
        "sum often misses by a lot with the usual 50 steps: the path from the baseline passes through a few "
        "narrow stretches where the output changes abruptly, and evenly spaced steps step over them. The view "
        "reports the error. `n_steps='auto'` places the steps where the path bends (an adaptive Simpson rule "
        "that splits the stretches that integrate worst) until the error is under 5%, or says plainly that it "
        "did not get there within `max_steps` (400 by default)."
    ),
    new_code_cell(
        "ig50 = lx.attribute(model, 'The capital of France is', target=' Paris', method='integrated_gradients',\n"
        "                    n_steps=50)\n"
        "print('completeness error with 50 steps:', ig50.completeness.round(3))\n"
        "ig = lx.attribute(model, 'The capital of France is', target=' Paris', method='integrated_gradients',\n"
        "                  n_steps='auto')\n"
        "print('with n_steps=\"auto\":', ig.completeness.round(3), 'converged:', ig.converged,\n"
        "      'after', ig.params['steps'][0], 'steps of the', ig.params['rule'], 'rule')\n"
        "for note in ig.notes:\n"
        "    print(note)\n"
        "assert ig50.completeness[0] > 0.5, 'expected 50 steps to miss by a lot here'\n"
        "assert ig.converged == (ig.completeness[0] < 0.05) and (ig.converged or ig.notes), 'under 5%, or a note says not'\n"
        "list(zip(ig.tokens.text[:ig.n_prompt], ig.row(0).round(2)))"
    ),
    new_markdown_cell(
        "## Contrast: why Paris and not Rome?\n\n"
        "A *contrastive* explanation attributes the difference between the target and a foil token: "
        "log p(Paris) − log p(Rome). One might expect tokens that support both cities (*capital*) to drop out "
        "and the one that decides between them (*France*) to stand out. Check it against the plain explanation:"
    ),
    new_code_cell(
        "contrast = lx.AttributionView(model, 'The capital of France is', target=' Paris', contrast=' Rome',\n"
        "                              method='input_x_gradient')\n"
        "contrast"
    ),
    new_code_cell(
        "# the same numbers in Python (result waits for the computation), beside the plain explanation\n"
        "r = contrast.result\n"
        "plain = lx.attribute(model, 'The capital of France is', target=' Paris', method='input_x_gradient')\n"
        "share = lambda row: np.abs(row) / np.abs(row).sum()\n"
        "for token, a, b in zip(r.tokens.text[:r.n_prompt], share(plain.row(0)), share(r.row(0))):\n"
        "    print(f\"{token!r:10s} share of the plain explanation {a:4.0%}, of the contrastive one {b:4.0%}\")\n"
        "france, capital = r.tokens.text.index(' France'), r.tokens.text.index(' capital')\n"
        "assert share(plain.row(0))[france] < 0.05 < 0.25 < share(r.row(0))[france]\n"
        "assert np.argmax(share(r.row(0)) - share(plain.row(0))) == france  # France gains the most\n"
        "assert np.argmax(r.row(0)) == capital  # yet capital still scores highest"
    ),
    new_markdown_cell(
        "*France* gains the most: under 5% of the plain explanation, over a quarter of the contrastive "
        "one. But *capital*, which supports Paris and Rome alike, does not drop out; it still scores highest. "
        "Input x gradient is a local, linear reading of two log-probabilities, and their difference keeps much "
        "of what each one says. A contrast shifts the weight toward what decides between the answers; it does "
        "not remove the shared context."
    ),
    new_markdown_cell(
        "## Where attribution misleads\n\n"
        "Different methods disagree, sometimes a lot: gradients are local, perturbations put the model on "
        "inputs it never saw, and every method answers a slightly different question. On this very prompt, "
        "integrated gradients scores *France* highest and *capital* lowest, while input x gradient puts "
        "*capital* first (below). Compare two or three "
        "methods before trusting one picture, and prefer claims that survive all of them. Figures save like "
        "every view: `view.save('why-paris.pdf', width='6in')` (the *Export* buttons do the same from the view)."
    ),
    new_code_cell(
        "for name, result in (('integrated gradients', ig), ('input x gradient', plain)):\n"
        "    scores = zip(result.tokens.text[:result.n_prompt], result.row(0))\n"
        "    print(f\"{name:20s}\", {token: round(float(score), 2) for token, score in scores})\n"
        "assert np.argmax(ig.row(0)) == france and np.argmin(ig.row(0)) == capital\n"
        "assert np.argmax(plain.row(0)) == capital, 'the two methods should disagree on the top token'"
    ),
    new_markdown_cell(
        "## Classifiers and masked language models\n\n"
        "The same methods explain a sentence classifier's label and a masked LM's fill-in. With any Hugging "
        "Face classifier or masked LM (none is bundled, so this cell is not run here):\n\n"
        "```python\n"
        "clf = lx.load_model('path/to/a-sentiment-classifier')        # kind='classifier' is detected\n"
        "lx.AttributionView(clf, 'I loved this film.', target='positive', method='occlusion')\n"
        "nli = lx.attribute(clf, 'A man plays a guitar.', text_pair='Someone makes music.', target='entailment')\n"
        "mlm = lx.load_model('path/to/a-bert-with-its-mlm-head')\n"
        "lx.AttributionView(mlm, 'Paris is the [MASK] of France.', target='capital')\n"
        "```\n\n"
        "A label is not a token of the text, so the view names it above the text; a mask is outlined and never "
        "scored (it is where the answer goes, not evidence for it)."
    ),
]

INSIDE = [
    new_markdown_cell(
        "# Inside the blocks: logit lens, what each part adds, and neurons\n\n"
        "A transformer keeps one vector per token, the *residual stream*, and every block **adds** to it: "
        "each attention layer (its heads) and each MLP writes something in, and the final norm and "
        "unembedding turn the last vector into next-token scores. This notebook reads that stream three ways:\n\n"
        "1. **logit lens**: decode the stream after every block as if it were the last one;\n"
        "2. **direct logit attribution**: how much each head and each MLP wrote *directly* into the "
        "prediction's logit (the parts sum to the logit);\n"
        "3. **neurons**: the MLP's hidden units, which of them fire on which tokens, and the patterns "
        "(factors) they form.\n\n"
        "Runs offline on the bundled SmolLM2 (30 blocks, 9 heads each, 1,536 MLP neurons per block)."
    ),
    new_code_cell(
        "import numpy as np\n"
        "import llmxai_widgets as lx\n\n"
        "model = lx.load_model()\n"
        "assert (model.n_layers, model.n_heads, model.n_neurons) == (30, 9, 1536)  # blocks, heads, MLP neurons\n"
        "text = 'The capital of France is'\n"
        "lens = lx.LogitLensView(model, text)\n"
        "lens"
    ),
    new_markdown_cell(
        "Each row is the stream after one block (*embed*: before the first), each column a position; a cell "
        "shows the token the stream would predict there, coloured by its probability. Click a cell for its "
        "top tokens; the chart follows the model's final prediction (here *Paris*) across layers. Notice how "
        "late *Paris* appears: most layers do not yet \"speak\" in the output vocabulary.\n\n"
        "**Where it misleads.** The lens reads every layer with the *last* layer's decoder. Early layers use "
        "their own basis, so their top tokens (commas, spaces) say more about the decoder than about what the "
        "layer knows. A late, sudden rise is a hint, not proof, that the answer is computed there."
    ),
    new_code_cell(
        "r = lx.logit_lens(model, text, target=' Paris')\n"
        "ranks = r.target_ranks[:, -1]\n"
        "print('rank of \" Paris\" at the last position, layer by layer:')\n"
        "print(dict(zip(r.labels, ranks.tolist())))\n"
        "early = r.top_text[r.row(0):r.row(9) + 1, :, 0]  # the top token at every position after blocks 0-9\n"
        "filler = np.mean([not any(ch.isalnum() for ch in token) for token in early.ravel()])\n"
        "print(f'after blocks 0-9, {filler:.0%} of the top tokens are punctuation or spaces')\n"
        "assert lens.result.target_text[-1] == ' Paris', 'the final prediction the chart follows'\n"
        "assert ranks[:r.row(22) + 1].min() > 1000 and np.flatnonzero(ranks == 0).tolist() == [len(ranks) - 1], 'Paris comes late'\n"
        "assert filler > 0.8, 'early layers should mostly decode to punctuation and spaces'"
    ),
    new_markdown_cell(
        "## Which heads and MLPs wrote *Paris*?\n\n"
        "Because every block adds to the stream, the final logit of *Paris* splits exactly into what each "
        "part wrote (with the final norm's scale frozen at its value on this input). Red parts raised the "
        "logit, blue ones lowered it; click a head to see which tokens it read from."
    ),
    new_code_cell(
        "parts = lx.ContributionView(model, text)\n"
        "parts"
    ),
    new_code_cell(
        "c = parts.result\n"
        "print(f'logit {c.logit:.3f} = sum of parts {c.total:.3f}')\n"
        "assert c.target_text == ' Paris' and abs(c.logit - c.total) < 1e-3\n"
        "labels, values = c.components()\n"
        "print('the five parts that raised it most:')\n"
        "sorted(zip(labels, values.round(2).tolist()), key=lambda part: -part[1])[:5]"
    ),
    new_markdown_cell(
        "**Where it misleads.** *Direct* means only what a part writes straight into the final logit. A head "
        "that moves information that a *later* MLP turns into *Paris* gets little credit here; causal tracing "
        "and ablations (later notebooks) measure those indirect effects.\n\n"
        "## Neurons\n\n"
        "An MLP neuron is one hidden unit of a block's MLP (for LLaMA-style models, a *gated* unit). Pick a "
        "layer, hover for values, click a neuron to see where it fires in this text and in a small corpus."
    ),
    new_code_cell(
        "corpus = [\n"
        "    'Paris is the capital of France.',\n"
        "    'Berlin is the capital of Germany.',\n"
        "    'The river flows through the city.',\n"
        "    'She bought bread, cheese and wine.',\n"
        "    'Rome was not built in a day.',\n"
        "]\n"
        "neurons = lx.NeuronView(model, 'The capital of France is Paris. The capital of Italy is Rome.', corpus=corpus)\n"
        "neurons"
    ),
    new_markdown_cell(
        "The *Factors* tab splits a layer's activations into a few non-negative patterns (NMF, as in ecco): "
        "tokens that light up the same group of neurons share a factor.\n\n"
        "**Where it misleads.** Most neurons respond to several unrelated things (*polysemantic*), and a "
        "neuron's top examples from five sentences are a tiny sample. Treat a neuron story as a hypothesis "
        "and test it on more text. Every view saves its figure: `parts.save('parts.pdf')`."
    ),
]


def write(name: str, cells: list) -> None:
    nb = new_notebook(cells=cells)
    stem = name.removesuffix(".ipynb").replace("_", "-")
    for i, cell in enumerate(nb.cells):
        cell.id = f"{stem}-{i}"  # stable ids: regenerating changes only what changed
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, EXAMPLES / name)
    print("wrote", EXAMPLES / name)


def about_cells(*views: str) -> list:
    """The closing cells of a lesson: the About text of each view it used (llmxai_widgets/about.json,
    what the views show behind their About toggle)."""
    from llmxai_widgets.widgets.about import about_markdown

    return [new_markdown_cell("## About these views\n\nThe same text each view shows behind its **About** "
                              "toggle (`lx.lesson_mode()` opens it in every view)."),
            *[new_markdown_cell(about_markdown(v)) for v in views]]


if __name__ == "__main__":
    write("quickstart.ipynb", QUICKSTART + about_cells("AttentionView"))
    write("pairs_and_translation.ipynb", PAIRS_AND_CROSS + about_cells("AttentionView"))
    write("attribution.ipynb", ATTRIBUTION + about_cells("AttributionView"))
    write("inside_the_blocks.ipynb", INSIDE + about_cells("LogitLensView", "ContributionView", "NeuronView"))
    write("locate_a_fact.ipynb", LOCATE + about_cells("CausalTraceView", "PatchingView"))
    write("circuits.ipynb", CIRCUITS + about_cells("CircuitView"))
    write("use_the_inside.ipynb", USE + about_cells("ProbeView", "SteeringView", "EditView"))
    write("judge_an_explanation.ipynb", JUDGE + about_cells("EvaluationView"))
    write("explore_a_prompt.ipynb", explorer_cells())

"""The cells of examples/explore_a_prompt.ipynb (written by scripts/make_examples.py).

Every sentence that states what the numbers show is either printed from the numbers or checked
by an ``assert`` in the cell below it. The "About" texts come from llmxai_widgets/about.json,
the same text each view shows behind its About toggle."""

from nbformat.v4 import new_code_cell, new_markdown_cell

from llmxai_widgets.widgets.about import about_markdown

TEXT = "The capital of France is Paris. The capital of Italy is"


def explorer_cells():
    return [
        new_markdown_cell(
            "# Explore one prompt: five views, one token\n\n"
            "Each view of this package answers one question about a prompt. The **Explorer** puts five of them "
            "under one strip of tokens: click a token (or move with the arrow keys) and every view turns to it. "
            "This lesson shows what each view says about the same token, and the trap in linking them: *the "
            "same position means a different thing in each view*. Everything runs offline on the bundled "
            "SmolLM2-135M.\n\n"
            "`lx.lesson_mode()` opens every view's **About** panel: what it shows and where it misleads."
        ),
        new_code_cell(
            "import numpy as np\n"
            "import llmxai_widgets as lx\n\n"
            "model = lx.load_model()\n"
            "lx.lesson_mode()\n"
            f"text = {TEXT!r}\n"
            "ex = lx.Explorer(model, text)\n"
            "ex"
        ),
        new_markdown_cell(
            "Click the last token, *is*, then open each tab. A view computes the first time its tab opens. "
            "The same token, from Python (the cell waits for each view's result):"
        ),
        new_code_cell(
            "last = len(ex.strip.tokens) - 1\n"
            "ex.focus = last\n"
            "lens = ex.view('logit_lens').result\n"
            "col = list(lens.positions).index(last)\n"
            "tops = [str(t) for t in lens.top_text[:, col, 0]]\n"
            "print('logit lens, top token after', repr(ex.strip.tokens[last]), 'by layer:', tops)\n"
            "print(f'last layer: {tops[-1]!r}, p = {lens.top_probs[-1, col, 0]:.2f}')\n"
            "assert tops[-1] == ' Rome' and ' Rome' not in tops[:-1]"
        ),
        new_markdown_cell(
            "The lens reads *Rome* only after the final block: every earlier layer's best guess is a filler "
            "token. The lens is biased early (each layer's residual read through the final unembedding), so "
            "\"not yet Rome\" does not mean the model has not started on it. The **contributions** view "
            "splits the final logit of *Rome* into the parts that wrote it:"
        ),
        new_code_cell(
            "c = ex.view('contributions').result\n"
            "layer, head = np.unravel_index(np.argmax(c.heads), c.heads.shape)\n"
            "print(f'logit of {c.target_text!r}: {c.logit:.2f}; largest head L{layer} H{head}: {c.heads.max():.2f}; '\n"
            "      f'largest MLP L{c.mlp.argmax()}: {c.mlp.max():.2f}')\n"
            "assert c.target_text == ' Rome' and c.mlp.max() > c.heads.max()"
        ),
        new_markdown_cell(
            "One MLP writes more of the logit than any single head. These are *direct* effects only: a head "
            "that moves *Italy* into place for a later MLP gets no credit here.\n\n"
            "## The trap: one position, four meanings\n\n"
            "Position 11 is the token *is*. But:\n\n"
            "- the **attention** view shows row 11: what *is* reads;\n"
            "- the **logit lens** and **contributions** views show the prediction *after* *is* (Rome);\n"
            "- the **attribution** view (every token from the ones before it) shows why *is itself* came;\n"
            "- the **neuron** view shows the MLP units active *at* *is*.\n\n"
            "So the attribution row at *is* does not explain *Rome*. Explaining *Rome* needs it as a target:"
        ),
        new_code_cell(
            "row = ex.view('attribution').result\n"
            "print('attribution row at position', last, 'explains the token', repr(row.targets[row.target_positions.index(last)]))\n"
            "rome = lx.attribute(model, text, target=' Rome', method='input_x_gradient')\n"
            "top = sorted(zip(rome.row(0)[:len(rome.tokens.text)], rome.tokens.text), reverse=True)[:3]\n"
            "print('input x gradient for Rome, top three:', [(t, round(float(s), 3)) for s, t in top])\n"
            "assert row.targets[row.target_positions.index(last)] == ' is' and top[0][1] == ' Italy'"
        ),
        new_markdown_cell(
            "Explained as a target, *Rome* draws most on *Italy*. Likewise the lens column at *is* after *France* "
            "(position 4) predicts *Paris*, and the attribution row explaining *Paris* sits one position later, "
            "at 5:"
        ),
        new_code_cell(
            "p4 = list(lens.positions).index(4)\n"
            "print('lens after position 4:', repr(str(lens.top_text[-1, p4, 0])), '| attribution row at 5 explains:',\n"
            "      repr(row.targets[row.target_positions.index(5)]))\n"
            "assert str(lens.top_text[-1, p4, 0]) == ' Paris' == row.targets[row.target_positions.index(5)]"
        ),
        new_markdown_cell(
            "## The heads that read a token\n\n"
            "Put a token in focus and the attention view lists the heads that attend to it most (each head's "
            "mean weight on it from the tokens that can read it). Try the first token, *The*:"
        ),
        new_code_cell(
            "ex.focus = 0\n"
            "att = ex.view('attention')\n"
            "att.wait()\n"
            "from llmxai_widgets.widgets.attention_jobs import attention_received\n"
            "reads = attention_received(att.result)  # [layer, head, token]\n"
            "share = (reads[:, :, 0] > 0.5).mean()\n"
            "print(f'{share:.0%} of the heads put more than half of their weight on the first token')\n"
            "assert share > 0.5"
        ),
        new_markdown_cell(
            "Most heads pour most of their attention onto the first token: an **attention sink**, a place to "
            "park weight when a head has nothing to do, not a sign that *The* matters. \"Reads it most\" is "
            "about weight, not about information moved.\n\n"
            "## Linking views made apart\n\n"
            "`lx.link(a, b, ...)` links any views of the same text; setting `focus` in Python moves them all:"
        ),
        new_code_cell(
            "lens_view = lx.LogitLensView(model, text)\n"
            "contrib_view = lx.ContributionView(model, text)\n"
            "link = lx.link(lens_view, contrib_view)\n"
            "lens_view.focus = 4\n"
            "contrib_view.wait()\n"
            "print('contributions now explain', repr(contrib_view.result.target_text), 'after position', contrib_view.position)\n"
            "assert contrib_view.position == 4 and contrib_view.result.target_text == ' Paris'\n"
            "lens_view.wait()\n"
            "lens_view"
        ),
        new_code_cell("contrib_view"),
        new_markdown_cell(
            "## A chat\n\n"
            "Give the explorer a list of messages and it writes them with the model's chat template; the strip "
            "labels each turn (SmolLM2's template adds a system turn of its own):"
        ),
        new_code_cell(
            "chat = lx.Explorer(model, [{'role': 'user', 'content': 'What is the capital of Italy?'}],\n"
            "                   views=('logit_lens', 'attention'))\n"
            "print(chat.strip.roles)\n"
            "assert chat.strip.roles == ['system', 'user']\n"
            "chat.view('logit_lens').wait()\n"
            "chat"
        ),
        new_markdown_cell(
            "## What each view shows, and where it misleads\n\n"
            "The text behind each view's About toggle:"
        ),
        *[new_markdown_cell(about_markdown(name)) for name in
          ("ExplorerStrip", "AttentionView", "AttributionView", "LogitLensView", "NeuronView", "ContributionView")],
    ]

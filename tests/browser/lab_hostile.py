"""The hostile-token corpus (tests/hostile.py) as the live views meet it.

``LIVE`` is the corpus plus payloads that would set ``window.__pwned`` if any view let token text
become markup (a browser test asserts it stays undefined). ``hostile_model()`` is the bundled
SmolLM2 with every corpus token added to its tokenizer's vocabulary (the embeddings grow to match),
so ``hostile_model().tokenize(TEXT)`` gives back exactly those tokens and a view on a real model
shows exactly the corpus. The lone surrogate cannot be added (a tokenizer takes only valid UTF-8):
the views built from hand-made results (tests/test_hostile_exports.py) carry it.

Plain module: the browser tests import it, and so does the kernel of their notebooks."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from hostile import HOSTILE  # noqa: E402

PAYLOADS: list[tuple[str, str]] = [
    ("pwned-img", '<img src=x onerror="window.__pwned=1">'),
    ("pwned-svg", '<svg onload="window.__pwned=2">'),
    ("pwned-script", "<script>window.__pwned=3</script>"),
    ("pwned-iframe", '<iframe srcdoc="<script>parent.__pwned=4</script>">'),
    ("pwned-style", "<style>*{display:none}</style>"),
]
LIVE: list[tuple[str, str]] = [*HOSTILE, *PAYLOADS]
NAMES = [name for name, _ in LIVE]
TOKENS = [token for _, token in LIVE]
# what a tokenizer can hold: every token but the lone surrogate
MODEL_TOKENS = [t for t in TOKENS if not any(0xD800 <= ord(c) <= 0xDFFF for c in t)]
TEXT = "".join(MODEL_TOKENS)
SOURCE = ["<s>", *TOKENS]  # for results made by hand: a start token first

# Markup no token may create: inside every view (``.lxw-root``: the views build their DOM from
# divs, spans, tables, canvases and form controls only) any element that can load, run or style
# something, or any on* attribute; anywhere in the page an element one of the payloads would make.
LIVE_MARKUP_JS = """() => {
  const found = [];
  for (const root of document.querySelectorAll('.lxw-root')) {
    for (const node of root.querySelectorAll('script, img, svg, iframe, object, embed, style, link, a, math, video, audio, form'))
      found.push(node.outerHTML.slice(0, 120));
    for (const node of root.querySelectorAll('*'))
      for (const a of node.getAttributeNames()) if (a.startsWith('on')) found.push(`${node.tagName} ${a}`);
  }
  for (const node of document.querySelectorAll('img[src="x"], svg[onload], iframe[srcdoc], [onerror*="pwned"], [onload*="pwned"]'))
    found.push(node.outerHTML.slice(0, 120));
  // scripts that run (not the saved page's JSON data) and stylesheets that apply
  for (const node of document.querySelectorAll('script:not([type]), script[type=""], script[type="module"], script[type="text/javascript"], style'))
    if ((node.textContent || '').includes('pwned') || (node.textContent || '').includes('*{display:none}')) found.push(node.outerHTML.slice(0, 120));
  return found;
}"""


def hostile_model():
    """The bundled SmolLM2 (a fresh copy: nothing else sees the change) whose vocabulary holds
    every token of MODEL_TOKENS as one token."""
    from tokenizers import AddedToken

    import llmxai_widgets as lx

    base = lx.load_model()
    tokenizer = base.tokenizer
    tokenizer.add_tokens([AddedToken(t, normalized=False, lstrip=False, rstrip=False, single_word=False)
                          for t in MODEL_TOKENS])
    base.model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    model = lx.load_model(model=base.model, tokenizer=tokenizer, name_or_path="SmolLM2 + hostile tokens")
    got = list(model.tokenize(TEXT).text)
    shown = [t for t in got if t in MODEL_TOKENS]
    assert shown == MODEL_TOKENS, [t[:40] for t in got]
    return model


def tokens_of(texts: list[str]):
    """Tokens with exactly ``texts`` as their text (no tokenizer)."""
    import numpy as np

    from llmxai_widgets.models.wrapped import Tokens

    n = len(texts)
    return Tokens(source="".join(texts), ids=np.arange(n), text=list(texts), offsets=np.zeros((n, 2), np.int64),
                  special=np.zeros(n, bool))


def attention_view(source: list[str] = SOURCE):
    """An attention view made by hand over ``source`` (the lone surrogate too)."""
    import llmxai_widgets as lx
    from test_export_html import toy_result

    return lx.AttentionView.from_result(toy_result(source, n_layers=1, n_heads=2), layer=0, head=1)


def neuron_view(source: list[str] = SOURCE, neuron: int = 3):
    """A neuron view made by hand over ``source``, neuron ``neuron`` open (its detail lists every token)."""
    import numpy as np

    import llmxai_widgets as lx
    from llmxai_widgets.methods.neurons import NeuronResult

    n_layers, n_neurons, top_k = 2, 8, 3
    acts = np.random.default_rng(4).normal(size=(n_layers, len(source), n_neurons)).astype(np.float32)
    top = np.argsort(-acts, axis=-1)[..., :top_k]
    result = NeuronResult(tokens=tokens_of(source), layers=list(range(n_layers)), activations=acts, top=top,
                          top_k=top_k, model_name="toy", n_model_layers=n_layers, layers_done=list(range(n_layers)),
                          complete=True)
    view = lx.NeuronView.from_result(result)
    view.neuron = neuron
    return view


def shown(token: str, chars: int = 40) -> str:
    """A token span's text: the display rule, spaces as spaces."""
    from llmxai_widgets.figures import display_token

    return display_token(token, chars).replace("\u2423", " ")


def quoted_json(token: str, chars: int = 40) -> str:
    """A tooltip's quoted token (js/core/layout.ts jsonToken)."""
    import json

    from llmxai_widgets.figures import display_token

    return json.dumps(display_token(token, chars), ensure_ascii=False)


RAW = "[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
"""Characters no label or tooltip may hold raw."""

TRAP = "window.alert = window.confirm = window.prompt = () => { window.__pwned = 'dialog'; };"
"""An init script: a payload calling alert() would set the flag too (and open no dialog)."""

"""Rectangular and filtered matrices in a real JupyterLab + Chromium: an encoder-decoder's
cross-attention (decoder rows x encoder columns, with a switch to the other parts) and a sentence
pair's A -> B filter. Expected weights come from transformers' own eager ``output_attentions``,
computed in the kernel straight from the Hugging Face model, not through ``llmxai_widgets``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lab_canvas import assert_color, hover, pixel
from lab_views import run_view, screenshot_view
from llmxai_widgets.colors import to_rgb


SOURCE = "The house is wonderful and big."
TARGET = "Das Haus ist wunderbar."

# The expected weights, computed in the kernel by transformers' eager attention: a tiny random
# T5's cross-attention and encoder self-attention, and MiniLM's weights over a sentence pair.
CROSS_REFERENCE = """\
import json, torch, llmxai_widgets as lx
from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration
from llmxai_widgets.models import bundled
torch.manual_seed(0)
cfg = T5Config(vocab_size=49152, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=3,
               num_heads=4, decoder_start_token_id=0)
hf = T5ForConditionalGeneration(cfg)
tok = AutoTokenizer.from_pretrained(bundled.smollm2_folder())
t5 = lx.load_model(model=hf, tokenizer=tok, name_or_path='tiny-t5')
enc = tok(SOURCE).input_ids
dec = [0] + tok(TARGET, add_special_tokens=False).input_ids
hf.set_attn_implementation('eager')
with torch.no_grad():
    out = hf(input_ids=torch.tensor([enc]), decoder_input_ids=torch.tensor([dec]), output_attentions=True)
hf.set_attn_implementation('sdpa')
print(json.dumps({'cross': out.cross_attentions[1][0, 2].tolist(), 'encoder': out.encoder_attentions[1][0, 2].tolist(),
                  'n_enc': len(enc), 'n_dec': len(dec)}))"""
PAIR_REFERENCE = """\
from transformers import AutoModel
from llmxai_widgets.models import bundled
mini = lx.load_model('minilm')
a, b = 'The cat sat on the mat.', 'Where did the cat sit?'
enc = mini.tokenizer(a, b, return_tensors='pt')
bert = AutoModel.from_pretrained(bundled.minilm_folder(), attn_implementation='eager')
with torch.no_grad():
    att = bert(**enc, output_attentions=True).attentions[2][0, 5]
print(json.dumps({'att': att.tolist(), 'types': enc['token_type_ids'][0].tolist()}))"""


@pytest.fixture(scope="module")
def notebook(lab_page, open_notebook):
    return open_notebook(lab_page, "pairs_and_cross")


def _json_output(cell) -> dict:
    text = "\n".join(cell.locator(".jp-OutputArea-output").all_inner_texts())
    lines = [line for line in text.splitlines() if line.startswith("{")]
    assert lines, f"no JSON printed; the cell shows:\n{text}"
    return json.loads(lines[-1])


def test_cross_attention_draws_decoder_rows_over_encoder_columns(notebook, artifacts):
    page = notebook.page
    ref = _json_output(notebook.run(f"SOURCE, TARGET = {SOURCE!r}, {TARGET!r}\n" + CROSS_REFERENCE))
    cell, canvas = run_view(notebook, f"v = lx.AttentionView(t5, {SOURCE!r}, target={TARGET!r}, layer=1, head=2)\nv")
    cross = np.asarray(ref["cross"])
    n_dec, n_enc = ref["n_dec"], ref["n_enc"]
    assert cross.shape == (n_dec, n_enc) and n_dec != n_enc
    assert canvas.get_attribute("data-part") == "cross"
    assert (int(canvas.get_attribute("data-rows")), int(canvas.get_attribute("data-cols"))) == (n_dec, n_enc)
    width, height = canvas.bounding_box()["width"], canvas.bounding_box()["height"]
    cellpx = float(canvas.get_attribute("data-cell"))
    assert abs((width - height) - (n_enc - n_dec) * cellpx) < 2 * cellpx, "wider than tall by the extra columns"
    for q, k in [(0, 0), (n_dec - 1, n_enc - 1), (2, 5), (n_dec - 1, 1)]:
        assert_color(pixel(canvas, q, k), to_rgb(cross[q, k], 0.0, cross.max(), "viridis"), f"cross ({q}, {k})")
    # every cell is readable: no masked grey in cross-attention (decoder tokens read the whole source)
    assert all(pixel(canvas, q, n_enc - 1)[:3] != (200, 200, 200) for q in range(n_dec))
    tip = hover(page, canvas, n_dec - 1, 3)
    text = tip.inner_text()
    assert f"#{n_dec - 1}" in text and "#3" in text
    assert abs(float(tip.get_attribute("data-weight")) - cross[n_dec - 1, 3]) <= cross.max() / 255 + 1e-6
    assert "decoder tokens" in cell.locator(".lxw-caption").first.inner_text()
    screenshot_view(cell, page, artifacts / "attention-cross.png")

    # Switch to the encoder's self-attention: a square matrix over the source.
    cell.locator("select.lxw-part").select_option("encoder")
    page.wait_for_function("(c) => c.dataset.part === 'encoder'", arg=canvas.element_handle(), timeout=20_000)
    assert (int(canvas.get_attribute("data-rows")), int(canvas.get_attribute("data-cols"))) == (n_enc, n_enc)
    encoder = np.asarray(ref["encoder"])
    for q, k in [(0, n_enc - 1), (4, 2)]:
        assert_color(pixel(canvas, q, k), to_rgb(encoder[q, k], 0.0, encoder.max(), "viridis"), f"encoder ({q}, {k})")
    assert not notebook.page_errors, notebook.page_errors


def test_sentence_pair_filter_shows_a_to_b(notebook, artifacts):
    page = notebook.page
    ref = _json_output(notebook.run(PAIR_REFERENCE))
    cell, canvas = run_view(notebook, "p = lx.AttentionView(mini, a, text_pair=b, layer=2, head=5)\np")
    att, types = np.asarray(ref["att"]), ref["types"]
    first_b = types.index(1)
    n = len(types)
    cell.locator("select.lxw-pair").select_option("AB")
    page.wait_for_function("(c) => c.dataset.filter === 'AB'", arg=canvas.element_handle(), timeout=20_000)
    got = {a: int(canvas.get_attribute(f"data-{a}")) for a in ("q0", "k0", "nq", "nk")}
    assert got == {"q0": 0, "k0": first_b, "nq": first_b, "nk": n - first_b}
    region = att[:first_b, first_b:]
    # float16 travels under a filter: the region keeps three digits, not a few uint8 steps of the sink
    assert float(canvas.get_attribute("data-vmax")) == pytest.approx(region.max(), rel=2e-3)
    for q, k in [(0, first_b), (first_b - 1, n - 1), (3, first_b + 2)]:
        assert_color(pixel(canvas, q, k), to_rgb(att[q, k], 0.0, region.max(), "viridis"), f"A->B ({q}, {k})")
    tip = hover(page, canvas, 2, first_b + 1)
    assert int(tip.get_attribute("data-key")) == first_b + 1
    assert "sentence A's queries reading sentence B's keys" in cell.locator(".lxw-caption").first.inner_text()
    screenshot_view(cell, page, artifacts / "attention-pair-ab.png")
    cell.locator("select.lxw-pair").select_option("all")
    page.wait_for_function("(c) => c.dataset.filter === 'all'", arg=canvas.element_handle(), timeout=20_000)
    assert int(canvas.get_attribute("data-nq")) == int(canvas.get_attribute("data-nk")) == n
    assert not notebook.page_errors, notebook.page_errors

"""ContributionView's Python side: the wire payloads are the result's arrays and add up to the
logit, the token strip and target box recompute, a picked head's attention is sent, figures escape
token text, errors say what to fix (the browser side: tests/browser/test_contributions_browser.py)."""

from __future__ import annotations

import io

import numpy as np
import pytest

import llmxai_widgets as lx
from llmxai_widgets.colors import to_rgb
from llmxai_widgets.figures import display_token
from llmxai_widgets.wire import decode

TEXT = "The capital of France is"
HOSTILE = "The tag </text><script>alert(1)</script> & <b> is"


def test_traits_carry_the_parts_and_they_sum_to_the_logit(smollm2):
    view = lx.ContributionView(smollm2, TEXT, background=False)
    direct = lx.contributions(smollm2, TEXT)
    assert view.status == "ready" and view.tokens == direct.tokens.text
    assert (view.position, view.target, view.target_text, view.target_id) == (4, "", " Paris", direct.target_id)
    assert (view.n_layers, view.n_heads) == (30, 9)
    for name in ("heads", "attention_bias", "mlp"):
        trait = getattr(view, name)
        assert isinstance(trait["data"], bytes) and trait["dtype"] == "float32", name
        np.testing.assert_array_equal(decode(trait), getattr(direct, name), err_msg=name)
    assert view.embed == pytest.approx(direct.embed) and view.constant == pytest.approx(direct.constant)
    parts = view.embed + decode(view.heads).sum() + decode(view.attention_bias).sum() + decode(view.mlp).sum() + view.constant
    assert view.logit == pytest.approx(direct.logit) and view.total == pytest.approx(view.logit, abs=1e-3)
    assert parts == pytest.approx(view.logit, abs=1e-3)


def test_position_and_target_recompute_and_bad_values_keep_the_picture(smollm2):
    view = lx.ContributionView(smollm2, TEXT, background=False)
    view.position = 2  # a click on the token strip
    assert view.result.position == 2 and view.target_text == lx.contributions(smollm2, TEXT, position=2).target_text
    view.target = " Paris"  # the target box
    assert view.result.target_text == " Paris" and view.target_text == " Paris" and view.result.position == 2
    result = view.result
    view.target = "Paris France"
    assert "cannot explain 'Paris France'" in view.error and view.target == " Paris" and view.result is result
    view.position = 12
    assert "position 12 is out of range" in view.error and view.position == 2 and view.result is result
    view.show(position=-1, target="")
    assert view.error == "" and view.position == 4 and view.target_text == " Paris" and view.target == ""
    with pytest.raises(ValueError, match="must be exactly one"):
        view.show(target="two tokens")


def test_a_picked_head_gets_its_attention_at_the_position(smollm2):
    view = lx.ContributionView(smollm2, TEXT, background=False)
    assert view.head_attention == {}
    view.picked = {"layer": 23, "column": 4}  # a click on head 4 of layer 23
    trait = view.head_attention
    assert (trait["layer"], trait["head"], trait["position"]) == (23, 4, 4)
    expected = lx.attention(smollm2, TEXT, layers=[23]).head(23, 4)[4]
    np.testing.assert_allclose(decode(trait), expected, atol=1e-6)
    assert decode(trait).sum() == pytest.approx(1.0, abs=1e-4)
    view.picked = {"layer": 23, "column": 10}  # the MLP column: no attention pattern
    assert view.head_attention == {}
    view.picked = {"part": "embed"}
    assert view.head_attention == {}


def test_figure_escapes_tokens_states_the_sum_and_its_cells_are_the_colour_table(smollm2, tmp_path, svg_texts):
    from PIL import Image

    position = next(i for i, t in enumerate(smollm2.tokenize(HOSTILE).text) if "</" in t)
    view = lx.ContributionView(smollm2, HOSTILE, target=" is", position=position, background=False)
    view.picked = {"layer": 3, "column": 2}
    texts = svg_texts(view.figure().svg().encode())
    result = view.result
    caption = texts[0]
    assert caption == (f"Direct logit attribution of \u201c is\u201d after #{position} "
                       f"\u201c{display_token(result.tokens.text[position])}\u201d") and "</" in caption
    assert f"logit {result.logit:.3f} = embeddings + heads + attention biases + MLPs + constant = {result.total:.3f}" in texts
    assert {"H0", "H8", "bias", "MLP", "embed", "constant", "L29", "logit contribution"} <= set(texts)
    for ext in ("svg", "pdf", "png"):
        assert view.save(tmp_path / f"dla.{ext}").stat().st_size > 1000
    saved = view.save(tmp_path / "dla.html").read_text(encoding="utf-8")  # a standalone page (tests/test_saved_pages.py)
    assert "<script>alert(1)" not in saved and '"kind":"contributions"' in saved
    fig = view.figure()
    png = np.asarray(Image.open(io.BytesIO(fig.png(dpi=72))).convert("RGB")).astype(int)
    grid = np.column_stack([result.heads, result.attention_bias, result.mlp])
    for layer in range(0, 30, 7):
        for col in range(11):
            got = png[int(fig.top + layer * fig.cell_h + 2), int(fig.left + fig.col_x[col] + 2)]
            want = to_rgb(grid[layer, col], -fig.vmax, fig.vmax, "RdBu_r")
            assert np.abs(got - want).max() <= 3, (layer, col, got, want)
    assert fig.vmax == pytest.approx(max(np.abs(grid).max(), abs(result.embed), abs(result.constant)))


def test_export_buttons_and_static_figure(smollm2, svg_texts, press_export):
    view = lx.ContributionView(smollm2, TEXT, background=False)
    kind, answer, [data] = press_export(view, format="png", theme="light")
    assert answer["ok"] and answer["name"] == f"contributions-{view.model_name}-position4.png"
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert view._static_bundle()["text/html"].startswith("<img")


def test_background_computation(smollm2):
    view = lx.ContributionView(smollm2, TEXT, background=True)
    assert view.wait(60) and view.status == "ready" and view.result.target_text == " Paris"
    view.position = 1
    assert view.wait(60) and view.result.position == 1
